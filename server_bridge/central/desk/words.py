"""Words of the desk pages in zh-CN and English (the shopper's page follows the phone's language)."""
from __future__ import annotations

from mallcommon.vocabulary import CATEGORY_WORDS, COLOUR_WORDS, FOUND_WORDS, GENDER_WORDS, REQUEST_WORDS

WORDS: dict[str, tuple[str, str]] = {
    "ticket": ("投诉单", "Ticket"),
    "status": ("状态", "Status"),
    "status.open": ("已受理，等待回复", "Received, waiting for a reply"),
    "status.answered": ("已回复，处理中", "Answered, being handled"),
    "status.closed": ("已办结", "Closed"),
    "category": ("类别", "Category"),
    **{f"cat.{value}": words for value, words in CATEGORY_WORDS.items()},  # the shared vocabulary
    **{f"found.{value}": words for value, words in FOUND_WORDS.items()},
    "floor": ("楼层", "Floor"),
    "filed": ("提交时间", "Filed"),
    "promise": ("我们承诺：1小时内响应，24小时内办结", "Our promise: a reply within 1 hour, closed within 24 hours"),
    "first_response": ("首次响应", "First response"),
    "closure": ("办结", "Closure"),
    "due": ("时限", "Due"),
    "met": ("已按时完成", "met"),
    "breached": ("已超时", "overdue"),
    "left": ("剩余", "left"),
    "replies": ("处理记录", "Messages"),
    "staff": ("客服", "Staff"),
    "you": ("您", "You"),
    "add_text": ("补充说明（请勿填写身份证号等敏感信息）", "Add details (no ID numbers or other sensitive data)"),
    "send": ("提交", "Send"),
    "not_found": ("未找到该投诉单，可能仍在从服务站上传中，请稍后再试。",
                  "Ticket not found yet: it may still be on its way from the station. Please try again shortly."),
    "err.text_too_long": ("内容过长，请控制在500字以内", "Too long: please keep it under 500 characters"),
    "err.text_has_markup": ("请输入纯文字，不要包含 < > 标签或代码", "Plain text only, please: no < > tags or codes"),
    "err.text_empty": ("请填写内容", "Please write something"),
    "err.closed": ("该投诉单已办结", "This ticket is closed"),
    "err.too_many": ("补充说明已达上限，客服会尽快回复", "Enough messages for now: staff will reply"),
    "err.owned_by_other": ("该投诉单已有首问负责人，不能转接", "Another member of staff owns this ticket (首问负责制)"),
    "err.ticket_not_found": ("没有这个投诉单", "No such ticket"),
    "owner": ("首问负责人", "Owner"),
    "take": ("认领", "Take it"),
    "reply": ("回复", "Reply"),
    "close": ("办结", "Close"),
    "tickets": ("投诉单处理", "Complaint tickets"),
    "lostfound": ("失物招领", "Lost & found"),
    "handover_due": ("已满7天，待移交安保", "7 days: hand over to security"),
    "held": ("保管中", "Held"), "claimed": ("已认领", "Claimed"), "handed_over": ("已移交", "Handed over"),
    "found_at": ("拾获时间", "Found"), "place": ("地点", "Place"), "days": ("天", "days"),
    "lost_reports": ("失物登记", "Lost-item reports"), "matches": ("可能匹配", "Possible matches"),
    "station": ("服务站", "Station"),
    # issue 17: 广播寻人 / 寻物 requests
    "requests": ("广播寻人寻物", "Announcement requests"),
    "request": ("广播请求", "Request"),
    **{f"req.{value}": words for value, words in REQUEST_WORDS.items()},
    **{f"gender.{value}": words for value, words in GENDER_WORDS.items()},
    **{f"colour.{value}": words for value, words in COLOUR_WORDS.items()},
    "rstatus.open": ("待广播", "Waiting"), "rstatus.announced": ("已广播", "Announced"),
    "rstatus.found": ("已找到", "Found"), "rstatus.closed": ("已关闭", "Closed"),
    "ack_clock": ("受理时限", "Acknowledge within"), "acknowledged_by": ("受理人", "Acknowledged by"),
    "escalates_to": ("超时升级至", "escalates to"), "last_seen": ("最后见到", "Last seen"),
    "callback": ("回拨电话", "Call-back"), "filed_by": ("登记", "Filed by"), "shopper": ("顾客自助", "shopper"),
    "announcement": ("广播稿", "Announcement"), "purged": ("已关闭，个人信息已清除", "Closed: personal details purged"),
    "act.ack": ("受理", "Acknowledge"), "act.announced": ("已广播", "Announced"), "act.found": ("已找到", "Found"),
    "act.closed": ("关闭", "Close"), "urgent": ("紧急", "Urgent"),
    "err.request_not_found": ("没有这个请求", "No such request"), "err.bad_action": ("无此操作", "No such action"),
    "request_not_found": ("未找到该请求，可能仍在从服务站上传中，请稍后再试。",
                          "Request not found yet: it may still be on its way from the station."),
    "request_promise": ("请留在服务台附近，工作人员会尽快广播并与您联系。",
                        "Please stay near the service desk: staff will announce it and come to you."),
}


def words(lang: str) -> dict[str, str]:
    i = 1 if lang == "en" else 0
    return {k: v[i] for k, v in WORDS.items()}
