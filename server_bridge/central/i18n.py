"""Dashboard words in zh-CN and English; `t(lang)` gives a lookup that falls back to the key itself."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mallcommon.vocabulary import CATEGORY_WORDS, ITEM_WORDS, REQUEST_WORDS

LANGS = ("zh", "en")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("商场自助服务站 · 运营中心", "Mall stations · Ops centre"),
    "fleet": ("站点总览", "Fleet"),
    "alerts": ("告警", "Alerts"),
    "kpis": ("运营指标", "KPIs"),
    "complaints": ("投诉", "Complaints"),
    "export": ("导出", "Export"),
    "station": ("站点", "Station"),
    "status": ("状态", "Status"),
    "online": ("在线", "Online"),
    "offline": ("离线", "Offline"),
    "never_seen": ("从未上线", "Never seen"),
    "last_heartbeat": ("最近心跳", "Last heartbeat"),
    "seconds_ago": ("{n} 秒前", "{n} s ago"),
    "printer": ("打印机", "Printer"),
    "camera": ("摄像头", "Camera"),
    "lockers": ("柜机", "Lockers"),
    "stock": ("可借库存", "Ready to lend"),
    "outbox": ("待上传", "Outbox"),
    "open_alerts": ("未处理告警", "Open alerts"),
    "version": ("版本", "Version"),
    "uptime": ("运行时长", "Uptime"),
    "ok": ("正常", "OK"),
    "paper_out": ("缺纸", "Paper out"),
    "paper_near_end": ("纸将尽", "Paper low"),
    "cover_open": ("盖板打开", "Cover open"),
    "none": ("无", "None"),
    "fps": ("帧率", "fps"),
    "decode_rate": ("识别", "decodes"),
    "slot_grid": ("格口", "Slots"),
    "faults": ("故障", "Faults"),
    "kind": ("类型", "Kind"),
    "subject": ("对象", "Subject"),
    "raised_at": ("产生时间", "Raised"),
    "severity": ("级别", "Severity"),
    "critical": ("严重", "Critical"),
    "warning": ("警告", "Warning"),
    "acknowledge": ("确认", "Acknowledge"),
    "resolve": ("解决", "Resolve"),
    "acknowledged": ("已确认", "Acknowledged"),
    "resolved": ("已解决", "Resolved"),
    "open": ("未处理", "Open"),
    "answered": ("已回复", "Answered"),
    "closed": ("已关闭", "Closed"),
    "cleared": ("条件已消失", "condition cleared"),
    "history": ("历史", "History"),
    "no_alerts": ("没有未处理的告警", "No open alerts"),
    "by": ("处理人", "By"),
    "refreshes": ("每 {n} 秒自动刷新", "refreshes every {n} s"),
    "alert.station_offline": ("站点离线", "Station offline"),
    "alert.printer_offline": ("打印机离线", "Printer offline"),
    "alert.printer_paper_out": ("打印机缺纸", "Printer out of paper"),
    "alert.printer_paper_near_end": ("打印纸将用完", "Printer paper near end"),
    "alert.printer_cover_open": ("打印机盖板打开", "Printer cover open"),
    "alert.locker_offline": ("柜机离线", "Locker offline"),
    "alert.low_stock": ("库存不足", "Low stock"),
    "alert.lending_overdue": ("借用逾期", "Lending overdue"),
    "alert.complaint_response_sla": ("投诉 1 小时未响应", "Complaint not answered within 1 h"),
    "alert.complaint_close_sla": ("投诉 24 小时未关闭", "Complaint not closed within 24 h"),
    "alert.projection_failed": ("事件无法处理（已保存）", "Event stored but not applied"),
    "alert.payment_mismatch": ("对账差异（账单与台账不符）", "Payment books differ from the provider's bill"),
    "alert.upload_gap": ("上传断档：中心少于站点已确认的事件（数据库曾回滚？）",
                         "Upload gap: the centre lacks events it had confirmed (database restored?)"),
    "alert.points_refused": ("站点积分变动超出规则，未入账", "Station points change outside policy: not applied"),
    "alert.member_enumeration": ("站点疑似遍历会员号，查询已暂停", "Station guessing member ids: look-ups paused"),
    "alert.alert_escalated": ("告警超时未确认，已升级", "Alert not acknowledged in time: escalated"),
    "escalated_to": ("已升级至", "escalated to"),
    "acknowledge_selected": ("确认所选告警", "Acknowledge selected"),
    "alert.upload_seq_reused": ("上传序号重复：站点重装后从 1 编号", "Upload seq reused: a re-imaged station numbers from 1"),
    "refused_events": ("被拒收的事件（隔离保存）", "Events refused by the centre (held in quarantine)"),
    "refused_events_help": ("站点保留这些事件，其后的事件照常上传。修复中心后，在“远程命令”中发送“重新发送被拒收的事件”，"
                            "或由站点员工执行 `python -m kiosk --config … outbox resend --all --by 工号`；中心只接收一次。",
                            "The station keeps them and its later events flow on. After the centre is fixed, send the "
                            "remote command “Resend the events the centre refused”, or have station staff run "
                            "`python -m kiosk --config … outbox resend --all --by <staff id>`: the centre takes each "
                            "once."),
    "refused_reason": ("原因", "Reason"),
    "refused_times": ("拒收次数", "Refusals"),
    "alert.upload_refused": ("中心拒收站点事件（内容不合规），已隔离保存；修复后由站点重新发送",
                             "Station event refused for its content: held in quarantine; resend it from the station "
                             "after the fix"),
    "alert.lostfound_handover_due": ("失物保管满 7 天，待移交安保", "Found item held 7 days: hand over"),
    "alert.storage_overtime": ("存包超时未取", "Stored bag past its time"),
    "alert.slot_fault": ("格口故障", "Slot fault"),
    "alert.door_left_open": ("柜门未关", "Locker door left open"),
    "alert.locker_tamper": ("柜门被强行打开", "Locker door forced open"),
    "alert.staff_pin_lockout": ("员工 PIN 多次错误已锁定", "Staff PIN locked after repeated failures"),
    "firmware": ("固件", "Firmware"),
    "left_open": ("未关门", "Left open"),
    "kpi.lendings": ("每日借用量（按类型）", "Lendings per day by type"),
    "kpi.satisfaction": ("满意度（目标 90）", "Satisfaction (goal 90)"),
    "kpi.complaint_times": ("投诉首次响应与解决时长", "Complaint first response and resolution"),
    "kpi.complaint_heatmap": ("投诉热力图：类别 × 楼层", "Complaints: category × floor"),
    "kpi.uptime": ("设备在线率", "Device uptime"),
    # issue 17: the desk's written duties (supplies, bag-storage procedures, shift handovers)
    "alert.supplies_low": ("服务用品不足", "Service supplies low"),
    "alert.supplies_check_overdue": ("服务用品充足与完好检查逾期", "Supplies check (count and condition) overdue"),
    "alert.storage_overnight": ("闭店后仍有存包未取", "Bags left in storage after closing"),
    "kpi.supplies_used": ("服务用品发放（每日）", "Service supplies handed out per day"),
    "kpi.storage_incidents": ("存包事件：遗失存包牌 / 过夜 / 损坏", "Storage incidents: lost tag / overnight / damage"),
    "incident.lost_tag": ("存包牌遗失", "Lost tag"),
    "incident.overnight": ("过夜存包", "Overnight bag"),
    "incident.damage": ("物品损坏", "Damage or loss"),
    "duties": ("值班记录", "Desk duties"),
    "first_aid_kit": ("医药箱", "First-aid kit"),
    "sewing_kit": ("针线包", "Sewing kit"),
    "plasters": ("创可贴", "Plasters"),
    "reading_glasses": ("老花镜", "Reading glasses"),
    "requests": ("广播寻人", "Announcements"),  # issue 17: 广播寻人 / 寻物 requests
    "alert.broadcast_request": ("广播寻人/寻物请求待受理", "Announcement request waiting"),
    "kpi.requests": ("广播寻人寻物：每日请求与办结时长", "Announcement requests per day, time to close"),
    "close_min": ("办结（分钟，中位数）", "to close (min, median)"),
    **{f"req.{value}": words for value, words in REQUEST_WORDS.items()},
    "goal": ("目标", "goal"),
    "average": ("平均", "average"),
    "first_response_h": ("首次响应（小时）", "First response (h)"),
    "resolution_h": ("解决（小时）", "Resolution (h)"),
    "within_sla": ("达标率", "within SLA"),
    "category": ("类别", "Category"),
    "floor": ("楼层", "Floor"),
    "text": ("内容", "Text"),
    "filed_at": ("提交时间", "Filed"),
    "days": ("最近 {n} 天", "last {n} days"),
    "no_data": ("暂无数据", "No data yet"),
    "csv": ("CSV 导出", "CSV export"),
    "lang_other": ("English", "中文"),
    "empty": ("空", "empty"),
    "occupied": ("有物", "occupied"),
    "fault": ("故障", "fault"),
    "disabled": ("停用", "disabled"),
    "slot.open": ("门开着", "door open"),  # "open" alone is a complaint's status (未处理)
    "maintenance": ("维护记录", "Maintenance"),
    "recent_events": ("最近事件", "Recent events"),
    **ITEM_WORDS,  # item types, and complaint categories as `cat.<value>`: the shared vocabulary
    **{f"cat.{value}": words for value, words in CATEGORY_WORDS.items()},
}


def t(lang: str) -> Callable[..., str]:
    index = 0 if lang == "zh" else 1

    def lookup(key: str, default: str | None = None, **params: Any) -> str:
        word = WORDS.get(key)
        text = word[index] if word else (key if default is None else default)
        return text.format(**params) if params else text
    return lookup
