"""Receipts the station prints: data in (frozen dataclasses), a printer-neutral ReceiptLayout out.

Chinese first, English on the next line where it helps; phone numbers masked; `render` turns a layout into
ESC/POS bytes for one printer profile (GB18030 printer font or raster, native or raster QR).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from device_profiles.printer_schema import PrinterProfile
from drivers.printer.encoder import QrMode, encode
from drivers.printer.layout import Block, Feed, Qr, ReceiptLayout, Row, Rule, Text
from kiosk.privacy import PhoneInvalid, mask_phone, normalize_phone, scrub
from mallcommon.vocabulary import ItemType

Lang = Literal["zh", "en"]
MALL_TZ = ZoneInfo("Asia/Shanghai")

ITEM_NAMES: dict[str, tuple[str, str]] = {
    "umbrella": ("雨伞", "Umbrella"),
    "power_bank": ("充电宝", "Power bank"),
    "storage": ("寄存柜", "Storage locker"),
    "stroller": ("婴儿车", "Stroller"),
}


@dataclass(frozen=True)
class LendingReceipt:
    station_id: str
    lending_id: str
    item_type: ItemType
    item_id: str
    locker_id: str
    slot: int
    member_id: str
    started_at: float
    due_at: float
    fee_rule: str
    return_token: str


@dataclass(frozen=True)
class ReturnReceipt:
    station_id: str
    lending_id: str
    item_type: ItemType
    item_id: str
    locker_id: str
    slot: int
    member_id: str
    started_at: float
    returned_at: float
    fee_cents: int
    duration_s: float
    bought: bool = False
    # issue 14: the return's money. kind refund | refund_due | kept | fee_due (PaymentNote's words)
    payment_kind: str = ""
    deposit_cents: int = 0
    refund_cents: int = 0
    refund_ref: str = ""


@dataclass(frozen=True)
class StorageReceipt:
    station_id: str
    deposit_id: str
    locker_id: str
    slot: int
    stored_at: float
    fee_rule: str
    pickup_token: str
    expires_at: float | None = None


@dataclass(frozen=True)
class ParkingVoucher:
    station_id: str
    voucher_id: str
    free_minutes: int
    valid_until: float
    voucher_token: str
    plate: str = ""


@dataclass(frozen=True)
class ComplaintTicket:
    station_id: str
    ticket_id: str
    category: str
    summary: str
    created_at: float
    reply_due_at: float
    lookup_token: str = ""
    phone: str | None = None


@dataclass(frozen=True)
class LostItemReport:
    station_id: str
    report_id: str
    description: str
    where_lost: str
    reported_at: float
    claim_token: str = ""
    phone: str | None = None


@dataclass(frozen=True)
class RequestTicket:
    """A 广播寻人 / 寻物 request: no description and no photo on paper, the number masked."""

    station_id: str
    request_id: str
    kind: str
    floor: str
    created_at: float
    phone_masked: str
    lookup_token: str = ""


@dataclass(frozen=True)
class StaffTestPage:
    station_id: str
    printer_model: str
    printed_at: float
    staff_id: str = ""
    note: str = ""


Receipt = (LendingReceipt | ReturnReceipt | StorageReceipt | ParkingVoucher | ComplaintTicket | LostItemReport
           | StaffTestPage | RequestTicket)

KINDS: dict[type, str] = {
    LendingReceipt: "lending", ReturnReceipt: "return", StorageReceipt: "storage", ParkingVoucher: "parking",
    ComplaintTicket: "complaint", LostItemReport: "lost_item", StaffTestPage: "test_page",
    RequestTicket: "request",
}


def kind_of(receipt: Receipt) -> str:
    return KINDS[type(receipt)]


class _Words:
    """Bilingual wording: Chinese first in "zh", English first in "en"."""

    def __init__(self, lang: Lang, tz: tzinfo) -> None:
        self.lang, self.tz = lang, tz

    def pair(self, zh: str, en: str) -> str:
        return f"{zh} {en}" if self.lang == "zh" else f"{en} {zh}"

    def title(self, zh: str, en: str) -> list[Block]:
        first, second = (zh, en) if self.lang == "zh" else (en, zh)
        return [Text(first, align="center", bold=True, size="double"), Text(second, align="center")]

    def time(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, self.tz).strftime("%Y-%m-%d %H:%M")

    def item(self, item_type: str) -> str:
        zh, en = ITEM_NAMES.get(item_type, (item_type, item_type))
        return self.pair(zh, en)


def money(cents: int) -> str:
    return f"¥{cents // 100}.{cents % 100:02d}"


def duration(seconds: float, lang: Lang = "zh") -> str:
    minutes = max(0, int(seconds // 60))
    h, m = divmod(minutes, 60)
    zh = f"{h}小时{m}分" if h else f"{m}分钟"
    en = f"{h} h {m} min" if h else f"{m} min"
    return f"{zh} ({en})" if lang == "zh" else f"{en} ({zh})"


def masked_phone(phone: str | None) -> str:
    if not phone:
        return ""
    try:
        return mask_phone(normalize_phone(phone))
    except PhoneInvalid:
        return mask_phone("".join(ch for ch in phone if ch.isdigit()))


def _header(w: _Words, station_id: str, zh: str, en: str) -> list[Block]:
    return [Text(w.pair("商场自助服务站", "Mall self-service"), align="center"),
            Text(w.pair("站点", "Station") + f" {station_id}", align="center"), Feed(1),
            *w.title(zh, en), Rule()]


def _footer(w: _Words) -> list[Block]:
    return [Rule(), Text(w.pair("谢谢光临", "Thank you"), align="center"),
            Text(w.pair("服务热线请见服务台", "Help: ask at the service desk"), align="center")]


PAYER_PREFIX = "PAY-"  # a lending paid by QR carries member_id PAY-<station order>: a payment, not a member


def _who(w: _Words, member_id: str) -> Row:
    """The member row, or for a QR-paid lending the payment it stands for (never shown as a member)."""
    if member_id.startswith(PAYER_PREFIX):
        return Row(w.pair("押金", "Deposit"), w.pair("扫码已付", "paid by QR") + f" …{member_id[-6:]}")
    return Row(w.pair("会员", "Member"), member_id)


def _money_of_return(r: ReturnReceipt, w: _Words) -> list[Block]:
    """Fee, deposit and refund of a return (issue 14), in words a shopper can check against their phone."""
    if r.payment_kind == "fee_due":
        return [Text(w.pair("费用待支付", "Fee to pay") + f" {money(r.fee_cents)}", align="center", bold=True),
                Text(w.pair("请在屏幕上扫码支付；付清前不能再借", "Pay by QR on the screen; borrowing waits until it is paid"),
                     align="center")]
    if r.payment_kind not in ("refund", "refund_due", "kept"):
        return []
    blocks: list[Block] = []
    if r.deposit_cents:
        blocks.append(Row(w.pair("押金", "Deposit"), money(r.deposit_cents)))
    if r.payment_kind == "kept":
        return [*blocks, Row(w.pair("退款", "Refund"), money(0), bold=True),
                Text(w.pair("押金已抵作购买价，不予退还", "The deposit became the price; nothing is refunded"),
                     align="center")]
    if r.payment_kind == "refund_due":
        return [*blocks, Text(w.pair("押金扣除费用后将原路退回", "Deposit minus the fee is being refunded to your "
                                                                   "payment account"), align="center")]
    return [*blocks, Row(w.pair("退款", "Refund"), money(r.refund_cents), bold=True),
            Text(w.pair("退款单号", "Refund ref.") + f" {r.refund_ref}", align="center"),
            Text(w.pair("原路退回", "to the account you paid with"), align="center")]


def _lending(r: LendingReceipt, w: _Words) -> list[Block]:
    return [*_header(w, r.station_id, "借用凭证", "Lending receipt"),
            Row(w.pair("物品", "Item"), w.item(r.item_type)),
            Row(w.pair("编号", "Item no."), r.item_id),
            Row(w.pair("取自", "From"), f"{r.locker_id} #{r.slot}"),
            _who(w, r.member_id),
            Row(w.pair("借出", "Taken"), w.time(r.started_at)),
            Row(w.pair("请于", "Return by"), w.time(r.due_at), bold=True),
            Rule(), Text(w.pair("收费规则", "Fees")), Text(r.fee_rule),
            Qr(r.return_token, w.pair("归还时扫码", "Scan at return")), *_footer(w)]


def _return(r: ReturnReceipt, w: _Words) -> list[Block]:
    outcome = w.pair("已转为购买", "Kept: bought") if r.bought else w.pair("已归还", "Returned")
    return [*_header(w, r.station_id, "归还凭证", "Return receipt"),
            Row(w.pair("物品", "Item"), w.item(r.item_type)),
            Row(w.pair("编号", "Item no."), r.item_id),
            _who(w, r.member_id),
            Row(w.pair("借出", "Taken"), w.time(r.started_at)),
            Row(w.pair("归还", "Returned"), w.time(r.returned_at)),
            Row(w.pair("归还至", "Into"), f"{r.locker_id} #{r.slot}"),
            Text(w.pair("用时", "Duration") + " " + duration(r.duration_s, w.lang)),
            Rule(), Row(w.pair("费用", "Fee"), money(r.fee_cents), bold=True), *_money_of_return(r, w),
            Text(outcome, align="center", bold=True),
            Text(w.pair("单号", "Ref") + f" {r.lending_id}", align="center"), *_footer(w)]


def _storage(r: StorageReceipt, w: _Words) -> list[Block]:
    blocks: list[Block] = [*_header(w, r.station_id, "寄存凭证", "Storage receipt"),
                           Row(w.pair("柜号", "Locker"), f"{r.locker_id} #{r.slot}"),
                           Row(w.pair("存入", "Stored"), w.time(r.stored_at))]
    if r.expires_at is not None:
        blocks.append(Row(w.pair("请于", "Collect by"), w.time(r.expires_at), bold=True))
    return [*blocks, Rule(), Text(w.pair("收费规则", "Fees")), Text(r.fee_rule),
            Qr(r.pickup_token, w.pair("取件时扫码", "Scan to collect")),
            Text(w.pair("凭此码取件，请妥善保管", "Anyone with this code can open the locker"), align="center"),
            *_footer(w)]


def _parking(r: ParkingVoucher, w: _Words) -> list[Block]:
    blocks: list[Block] = [*_header(w, r.station_id, "停车优惠券", "Parking voucher"),
                           Row(w.pair("免费时长", "Free parking"), f"{r.free_minutes} min")]
    if r.plate:
        blocks.append(Row(w.pair("车牌", "Plate"), r.plate))
    return [*blocks, Row(w.pair("有效期至", "Valid until"), w.time(r.valid_until), bold=True),
            Qr(r.voucher_token, w.pair("出场时扫码", "Scan at the car park exit")),
            Text(w.pair("券号", "Voucher") + f" {r.voucher_id}", align="center"), *_footer(w)]


def _complaint(r: ComplaintTicket, w: _Words) -> list[Block]:
    blocks: list[Block] = [*_header(w, r.station_id, "投诉受理单", "Complaint ticket"),
                           Row(w.pair("单号", "Ticket"), r.ticket_id, bold=True),
                           Row(w.pair("类别", "Category"), r.category),
                           Row(w.pair("提交", "Filed"), w.time(r.created_at)),
                           Row(w.pair("答复期限", "Reply by"), w.time(r.reply_due_at))]
    if r.phone:
        blocks.append(Row(w.pair("联系电话", "Phone"), masked_phone(r.phone)))
    blocks += [Rule(), Text(scrub(r.summary))]
    if r.lookup_token:
        blocks.append(Qr(r.lookup_token, w.pair("扫码查询进度", "Scan to follow up")))
    return [*blocks, *_footer(w)]


def _lost(r: LostItemReport, w: _Words) -> list[Block]:
    blocks: list[Block] = [*_header(w, r.station_id, "失物登记", "Lost item report"),
                           Row(w.pair("编号", "Report"), r.report_id, bold=True),
                           Row(w.pair("登记", "Reported"), w.time(r.reported_at)),
                           Text(w.pair("物品", "Item") + ": " + scrub(r.description)),
                           Text(w.pair("丢失地点", "Where") + ": " + scrub(r.where_lost))]
    if r.phone:
        blocks.append(Row(w.pair("联系电话", "Phone"), masked_phone(r.phone)))
    if r.claim_token:
        blocks.append(Qr(r.claim_token, w.pair("认领时出示", "Show this when claiming")))
    return [*blocks, *_footer(w)]


REQUEST_NAMES: dict[str, tuple[str, str]] = {"child": ("寻人·儿童", "Missing child"),
                                              "elder": ("寻人·老人", "Missing elderly person"),
                                              "companion": ("寻人·同伴", "Missing companion"),
                                              "item": ("寻物", "Lost item")}


def _request(r: RequestTicket, w: _Words) -> list[Block]:
    zh, en = REQUEST_NAMES.get(r.kind, (r.kind, r.kind))
    blocks: list[Block] = [*_header(w, r.station_id, "广播寻人寻物", "Announcement request"),
                           Row(w.pair("单号", "Request"), r.request_id, bold=True),
                           Row(w.pair("类型", "Kind"), w.pair(zh, en)),
                           Row(w.pair("楼层", "Floor"), r.floor),
                           Row(w.pair("提交", "Filed"), w.time(r.created_at)),
                           Row(w.pair("回拨电话", "Call-back"), scrub(r.phone_masked)),
                           Rule(), Text(w.pair("请留在服务台附近，我们会尽快广播", "Please stay near the service desk: "
                                               "we will announce it at once"))]
    if r.lookup_token:
        blocks.append(Qr(r.lookup_token, w.pair("扫码查看进度", "Scan to see progress")))
    return [*blocks, *_footer(w)]


def _test_page(r: StaffTestPage, w: _Words) -> list[Block]:
    blocks: list[Block] = [*_header(w, r.station_id, "打印测试页", "Printer test page"),
                           Row(w.pair("型号", "Model"), r.printer_model),
                           Row(w.pair("时间", "Printed"), w.time(r.printed_at))]
    if r.staff_id:
        blocks.append(Row(w.pair("员工", "Staff"), r.staff_id))
    blocks += [Rule("="), Text("中文宽度测试：一二三四五六七八九十", bold=True),
               Text("ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789"), Text("倍宽 Wide", size="wide"),
               Text("倍高 Tall", size="tall"), Text("下划线 Underline", underline=True),
               Text("右对齐 Right", align="right")]
    if r.note:
        blocks.append(Text(scrub(r.note)))
    return [*blocks, Qr(f"TEST.{r.station_id}", w.pair("扫码测试", "Scan test")), *_footer(w)]


_BUILDERS = {LendingReceipt: _lending, ReturnReceipt: _return, StorageReceipt: _storage, ParkingVoucher: _parking,
             ComplaintTicket: _complaint, LostItemReport: _lost, StaffTestPage: _test_page,
             RequestTicket: _request}


def layout_for(receipt: Receipt, lang: Lang = "zh", tz: tzinfo = MALL_TZ) -> ReceiptLayout:
    """The printer-neutral layout of one receipt; times are shown in the mall's time zone."""
    builder = _BUILDERS[type(receipt)]
    return ReceiptLayout(kind_of(receipt), tuple(builder(receipt, _Words(lang, tz))))  # type: ignore[operator]


def render(layout: ReceiptLayout, profile: PrinterProfile, qr_mode: QrMode = "auto") -> bytes:
    """ESC/POS bytes of a layout for one printer profile."""
    return encode(layout, profile, qr_mode)


__all__ = ["ComplaintTicket", "LendingReceipt", "LostItemReport", "ParkingVoucher", "Receipt", "ReceiptLayout",
           "RequestTicket",
           "ReturnReceipt", "StaffTestPage", "StorageReceipt", "kind_of", "layout_for", "render"]
