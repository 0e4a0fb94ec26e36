"""Lost & found: shoppers browse, report a loss and get a claim receipt; staff register items and hand them over."""
from __future__ import annotations

import logging
import time
from typing import Any

from kivy.properties import ListProperty, StringProperty

from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.screens.desk_complaint import FLOORS, CategoryFloorScreen, _choice
from kiosk.ui.services import error_code
from mallcommon.vocabulary import FOUND_CATEGORIES, FOUND_WORDS, english

log = logging.getLogger(__name__)

CATEGORIES = [(c, english(FOUND_WORDS, c)) for c in FOUND_CATEGORIES]  # (value, msgid)
MAX_ITEMS = 3
# when the shopper lost it: asked on screen, never made up
WHEN = [("2h", "In the last 2 hours"), ("today", "Earlier today"), ("yesterday", "Yesterday"),
        ("older", "Before yesterday")]


def lost_at_for(when: str, now: float) -> float:
    """A representative time for the shopper's answer (the middle of the span, local time)."""
    midnight = time.mktime(time.localtime(now)[:3] + (0, 0, 0, 0, 0, -1))
    if when == "2h":
        return now - 3600
    if when == "today":
        return (midnight + max(midnight, now - 2 * 3600)) / 2
    if when == "yesterday":
        return midnight - 12 * 3600
    if when == "older":
        return midnight - 3 * 86400 + 12 * 3600
    raise ValueError(f"unknown answer {when!r}")


class LostFoundChoices(CategoryFloorScreen):
    """Lost & found category and floor choices, shared by the shoppers' and the staff screen."""

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        _choice(self, "categories", CATEGORIES, "category")
        _choice(self, "floors", [(f, f) for f in FLOORS], "floor")


class LostFoundScreen(LostFoundChoices):
    flow = "lostfound"
    items = ListProperty([])
    when = StringProperty("")

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        _choice(self, "whens", WHEN, "when")

    def on_when(self, *_: Any) -> None:
        self._mark("whens", self.when)

    def enter(self, **_: Any) -> None:
        super().enter()
        self.category, self.floor, self.when, self.items = "", "", "", []
        self._show([])

    def browse(self) -> None:
        lf = self.services.lostfound
        if lf is None:
            self.notify("This service is not available here")
            return
        found = lf.browse(category=self.category or None, floor=self.floor or None)
        self._show(found)
        if not found:
            self.notify("Nothing like that has been handed in")

    def report(self) -> None:
        lf = self.services.lostfound
        if lf is None:
            self.notify("This service is not available here")
            return
        if not self.category:
            self.notify("Please choose what you lost")
            return
        if not self.when:
            self.notify("Please choose when you lost it")
            return
        try:
            _report_id, matches = lf.report_lost(category=self.category, floor=self.floor or None,
                                                 place=self.floor or "?", lost_at=lost_at_for(self.when, lf.clock()))
        except Exception as exc:  # LostFoundRefused: its code maps to words
            self.notify("Something went wrong")
            log.info("ui.lost_report_refused code=%s", error_code(exc, "error"))
            return
        self._show([m.item for m in matches])
        self.notify("Your report is registered. These items might be yours:" if matches else
                    "Your report is registered. Nothing matches yet; staff will look out for it.", ok=True)

    def _show(self, found: list[Any]) -> None:
        from kivy.factory import Factory

        self.items = list(found[:MAX_ITEMS])
        box = self.ids.found_list
        box.clear_widgets()
        for item in self.items:
            day = time.strftime("%m-%d", time.localtime(item.found_at))
            button = Factory.KButton(text=f"{self.app.t(dict(CATEGORIES).get(item.category, 'Other'))} · "
                                          f"{item.floor or ''} {item.place} · {day}")
            button.bind(on_release=lambda _w, it=item: self.app.go("found_item", item=it))
            box.add_widget(button)

    def wipe(self) -> None:
        super().wipe()
        self.category, self.floor, self.when, self.items = "", "", "", []


class FoundItemScreen(FlowScreen):
    flow = "lostfound"
    description = StringProperty("")
    claim_code = StringProperty("")
    photo = StringProperty("")
    printed = StringProperty("")

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self._photo, self._claim = self.ids.photo.__self__, self.ids.claim.__self__
        self.bind(photo=lambda *_: self.show_widget(self._photo, bool(self.photo)),
                  claim_code=lambda *_: self.show_widget(self._claim, bool(self.claim_code)))
        self.show_widget(self._photo, False)
        self.show_widget(self._claim, False)   # no item, nothing to claim

    def enter(self, item: Any = None, **_: Any) -> None:
        super().enter()
        self._item = item
        self.printed = ""
        if item is None:
            self.description, self.claim_code, self.photo = "", "", ""
            return
        self.description = f"{item.floor or ''} {item.place}\n{item.description}".strip()
        self.claim_code = item.claim_code
        self.photo = str(item.public_photo) if item.public_photo else ""  # blurred for documents and cards

    def print_claim(self) -> None:
        lf, printing = self.services.lostfound, self.services.printing
        if lf is None or self._item is None or printing is None:
            self.notify("Show this code at the service desk to claim the item.")
            return
        item = self._item
        self.app.run_worker(lambda: printing.print_receipt(lf.claim_receipt(item)).printed,
                            lambda ok: setattr(self, "printed", "yes" if ok else "no"),
                            lambda _exc: setattr(self, "printed", "no"), name="ui-claim")

    def back(self) -> None:
        self.app.go("lostfound")

    def wipe(self) -> None:
        super().wipe()
        self._item, self.description, self.claim_code, self.photo = None, "", "", ""


def _frame_jpeg(frame: Any) -> bytes | None:
    """A camera frame (BGR array) as JPEG bytes for the found-item record."""
    if frame is None:
        return None
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame[:, :, ::-1]).save(buf, "JPEG", quality=85)
    return buf.getvalue()


class StaffFoundScreen(LostFoundChoices):
    """Staff mode: register a found item with a camera photo; hand over items held past the retention period."""

    flow = "lostfound"
    staff_only = True
    home_button = False
    due = ListProperty([])

    def enter(self, **_: Any) -> None:
        super().enter()
        self.category, self.floor, self.ids.place.text = "", "", ""
        lf = self.services.lostfound
        self.due = [i.item_id for i in lf.due_for_handover()] if lf is not None else []
        if self.app.session.get("staff") is None:
            self.notify("Staff only: scan your staff badge first")

    def on_enter(self, *_: Any) -> None:
        self.ids.camera.start()

    def on_leave(self, *_: Any) -> None:
        self.ids.camera.stop()

    def register(self) -> None:
        lf, session = self.services.lostfound, self.app.session.get("staff")
        if lf is None or session is None:
            self.notify("Staff only: scan your staff badge first")
            return
        scanning = self.services.scanning
        photo = _frame_jpeg(scanning.latest_frame()) if scanning is not None else None
        fields = {"staff_id": session.staff_id, "category": self.category or "other", "floor": self.floor or None,
                  "place": self.ids.place.text or (self.floor or "?"), "found_at": time.time(), "photo": photo}
        self.app.run_worker(lambda: lf.register_found(**fields), self._registered, self._refused,
                            name="ui-found-register")

    def _registered(self, item: Any) -> None:
        self.ids.place.text = ""
        self.notify("Registered as {item}", ok=True, item=item.item_id)

    def _refused(self, exc: BaseException) -> None:
        self.notify("Please check the form: {field}", field=str(getattr(exc, "code", "?")))

    def hand_over(self) -> None:
        lf, session = self.services.lostfound, self.app.session.get("staff")
        if lf is None or session is None:
            self.notify("Staff only: scan your staff badge first")
            return
        handed = lf.hand_over(staff_id=session.staff_id, receiver="security")
        self.due = []
        self.notify("{count} items handed over to security", ok=True, count=len(handed))

    def back(self) -> None:
        self.app.go("diagnostics" if self.app.session.get("staff") is not None else "home")

    def wipe(self) -> None:
        super().wipe()
        self.category, self.floor, self.due = "", "", []
        self.ids.place.text = ""
        self.ids.camera.stop()
