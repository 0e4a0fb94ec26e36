"""Member centre: scan the member code → level, points, open lendings (offline: what still works), parking."""
from __future__ import annotations

import logging
import time
from typing import Any

from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty

from kiosk.services.scanning import MemberScanned, ScanEvent
from kiosk.tokens import MemberCode
from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.services import error_code

log = logging.getLogger(__name__)

OFFLINE_MSGIDS = {
    "member_offline_cached": "The mall's system is unreachable: showing what we saw a few minutes ago.",
    "member_offline_points_as_of": "Points may have changed since.",
    "member_offline_no_profile": "The mall's system is unreachable: member details are not available now.",
    "member_offline_lendings_ok": "Borrowing and returning still work.",
}
# the centre's level keys in words (an unknown key is shown as a plain "Member", never raw)
LEVELS = {"regular": "Member", "silver": "Silver member", "gold": "Gold member", "platinum": "Platinum member"}
REFUSALS = {
    "not_enough_points": "Not enough points for that",
    "parking_daily_limit": "That is more parking than one day allows",
    "centre_offline": "Points cannot be checked right now, please try again later",
    "unknown_member": "This member is not known to the mall",
    "replayed": "This member code was already used, please refresh it",
    "expired": "Member code has expired, please refresh it",
    "forged": "Sorry, that is not a code we know.",
}


class MemberScreen(FlowScreen):
    flow = "member"
    state = StringProperty("scan")  # scan | loading | shown | voucher
    level = StringProperty("")
    member_name = StringProperty("")
    points = NumericProperty(-1)
    lendings = NumericProperty(0)
    last_visit = StringProperty("")
    notes = ListProperty([])
    can_redeem = BooleanProperty(False)
    voucher_code = StringProperty("")
    voucher_hours = NumericProperty(0)
    printed = BooleanProperty(False)
    confirm_hours = NumericProperty(0)   # parking costs points: the first tap asks, the second redeems

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self._parking, self._done = self.ids.parking.__self__, self.ids.done.__self__
        self.bind(state=self._arrange, can_redeem=self._arrange)
        self._arrange()

    def _arrange(self, *_: Any) -> None:
        self.show_widget(self._parking, self.state == "shown" and self.can_redeem)
        self.show_widget(self._done, self.state in ("shown", "voucher"))

    def parking_label(self, hours: int, confirm: float, lang: str) -> str:
        cost = self.services.members.parking.points_per_hour * hours if self.services.members is not None else 0
        if confirm == hours:
            return self.app.t("Confirm: {hours} h for {points} points", lang).format(hours=hours, points=cost)
        return self.app.t("{hours} h parking", lang).format(hours=hours) + "\n" + \
            self.app.t("{points} points", lang).format(points=cost)

    def enter(self, **_: Any) -> None:
        super().enter()
        self._clear()

    def _clear(self) -> None:
        self._member: MemberCode | None = None
        self.state, self.level, self.member_name, self.points, self.lendings = "scan", "", "", -1, 0
        self.last_visit = ""
        self.notes, self.can_redeem, self.voucher_code, self.voucher_hours, self.printed = [], False, "", 0, False
        self.confirm_hours = 0

    def on_enter(self, *_: Any) -> None:
        self.ids.camera.start()

    def on_leave(self, *_: Any) -> None:
        self.ids.camera.stop()

    def on_scan(self, event: ScanEvent) -> bool:
        if not isinstance(event, MemberScanned):
            return False
        members = self.services.members
        if members is None:
            self.notify("This service is not available here")
            return True
        self.state, self._member = "loading", event.code
        self.app.run_worker(lambda: members.view(event.code), self._show, self._failed, name="ui-member")
        return True

    def _show(self, view: Any) -> None:
        p = view.profile
        visits = p.recent_visits if p else []
        at = visits[0].get("at") if visits and isinstance(visits[0], dict) else None
        self.last_visit = time.strftime("%Y-%m-%d", time.localtime(at)) if at else ""
        self.state = "shown"
        self.level, self.member_name = (p.level, p.name_masked) if p else ("", "")
        self.points = view.points_available if view.points_available is not None else -1
        self.lendings = len(view.open_lendings)
        self.notes = [OFFLINE_MSGIDS.get(n, n) for n in view.offline_notes]
        self.can_redeem = view.can_redeem

    def _failed(self, exc: BaseException) -> None:
        code = error_code(exc, "error")
        log.info("ui.member_failed code=%s", code)
        self.state = "scan" if self._member is None else "shown"
        self.notify(REFUSALS.get(code, "Something went wrong"))

    def summary(self, state: str, level: str, name: str, points: float, lendings: float, lang: str) -> str:
        t = self.app.t
        if state == "scan":
            return t("Show your member code to the camera", lang)
        if state == "loading":
            return t("Looking you up…", lang)
        level_words = t(LEVELS.get(level, "Member"), lang)
        head = f"{name} · {level_words}" if name else level_words
        pts = t("{points} points", lang).format(points=int(points)) if points >= 0 else ""
        open_ = t("{count} open lendings", lang).format(count=int(lendings))
        visit = t("Last visit: {date}", lang).format(date=self.last_visit) if self.last_visit else ""
        return "\n".join(x for x in (head, pts, open_, visit) if x)

    def redeem(self, hours: int) -> None:
        members = self.services.members
        if members is None or self._member is None:
            return
        if self.confirm_hours != hours:
            self.confirm_hours = hours
            return
        self.confirm_hours = 0
        member, printing = self._member, self.services.printing

        def job() -> tuple[Any, bool]:
            voucher = members.redeem_parking(member, hours)
            printed = False
            if printing is not None:
                printed = bool(printing.print_receipt(members.voucher_receipt(voucher)).printed)
            return voucher, printed

        self.app.run_worker(job, self._voucher, self._failed, name="ui-parking")

    def _voucher(self, result: Any) -> None:
        voucher, self.printed = result
        self.voucher_code, self.voucher_hours, self.state = voucher.code, voucher.hours, "voucher"

    def done(self) -> None:
        self.app.go("rating", flow="member")

    def wipe(self) -> None:
        super().wipe()
        self._clear()
        self.ids.camera.stop()
