"""Complaints: category, floor, rating, an optional phone number (masked), then a ticket with a status QR.

Free text is typed on the shopper's phone: the ticket's QR opens the centre's form. Scanning a ticket at
any station shows its status.
"""
from __future__ import annotations

import logging
from typing import Any

from kivy.properties import ListProperty, NumericProperty, StringProperty

from kiosk.privacy import mask_phone
from kiosk.services.scanning import ScanEvent, SignedScanned
from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.services import error_code
from kiosk.ui.widgets import ChoiceButton
from mallcommon import vocabulary
from mallcommon.vocabulary import CATEGORY_WORDS, COMPLAINT_CATEGORIES, english

log = logging.getLogger(__name__)

CATEGORIES = [(c, english(CATEGORY_WORDS, c)) for c in COMPLAINT_CATEGORIES]  # (value, msgid)
FLOORS = list(vocabulary.FLOORS)
STATUS_MSGIDS = {"filed": "Received at this station, on its way to the service centre",
                 "open": "Received, waiting for a reply", "answered": "Answered, being handled",
                 "closed": "Closed", "unknown": "Not known yet: please try again later",
                 # a 广播寻人 / 寻物 request's ticket (R1) is read here too
                 "announced": "Announced: staff are looking", "found": "Found: please come to the service desk"}
REQUEST_STATUS_MSGIDS = {**STATUS_MSGIDS, "open": "Received, waiting to be announced"}
REFUSALS = {"phone_invalid": "Please enter an 11-digit mobile number",
            "forged": "This is not a genuine complaint ticket", "malformed": "This is not a genuine complaint ticket"}


def _choice(screen: FlowScreen, box_id: str, options: list[tuple[str, str]], attr: str) -> None:
    box = screen.ids[box_id]
    for value, msgid in options:
        button = ChoiceButton(value=value, msgid=msgid)
        button.bind(on_release=lambda _w, v=value: setattr(screen, attr, v))
        box.add_widget(button)


class CategoryFloorScreen(FlowScreen):
    """A screen with a category grid (id `categories`) and a floor row (id `floors`) of ChoiceButtons."""

    category = StringProperty("")
    floor = StringProperty("")

    def _mark(self, box_id: str, value: str) -> None:
        for button in self.ids[box_id].children:
            button.chosen = button.value == value

    def on_category(self, *_: Any) -> None:
        self._mark("categories", self.category)

    def on_floor(self, *_: Any) -> None:
        self._mark("floors", self.floor)


class ComplaintScreen(CategoryFloorScreen):
    flow = "complaint"
    rating = NumericProperty(0)

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        _choice(self, "categories", CATEGORIES, "category")
        _choice(self, "floors", [(f, f) for f in FLOORS], "floor")
        # "4 ★", not "★★★★": five stars in a fifth of the screen wrap mid-row in large text
        _choice(self, "stars", [(str(n), f"{n} ★") for n in range(1, 6)], "rating_text")

    rating_text = StringProperty("")

    def on_rating_text(self, *_: Any) -> None:
        self.rating = int(self.rating_text or 0)
        self._mark("stars", self.rating_text)

    def enter(self, **_: Any) -> None:
        super().enter()
        self.category, self.floor, self.rating_text = "", "", ""

    def next(self) -> None:
        if not (self.category and self.floor and self.rating):
            self.notify("Please choose a category, a floor and a rating")
            return
        self.app.go("complaint_phone", form={"category": self.category, "floor": self.floor,
                                             "rating": self.rating,
                                             "lang": "en" if self.app.lang == "en" else "zh_CN"})

    def wipe(self) -> None:
        super().wipe()
        self.category, self.floor, self.rating_text = "", "", ""


class ComplaintPhoneScreen(FlowScreen):
    flow = "complaint"
    entered = StringProperty("")

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self.ids.keypad.on_ok = self.submit

    def enter(self, form: dict[str, Any] | None = None, **_: Any) -> None:
        super().enter()
        self._form = dict(form or {})
        self.ids.keypad.clear()

    def shown(self, entered: str) -> str:
        """Digits while typing; once all 11 are in, only the mask stays on screen."""
        return mask_phone(entered) if len(entered) >= 11 else entered

    def submit(self, phone: str | None) -> None:
        complaints = self.services.complaints
        if complaints is None or not self._form:
            self.notify("This service is not available here")
            return
        fields, printing = {**self._form, "phone": phone or None}, self.services.printing

        def job() -> tuple[Any, bool]:
            ticket = complaints.file(**fields)
            printed = False
            if printing is not None:
                printed = bool(printing.print_receipt(complaints.ticket_receipt(ticket)).printed)
            return ticket, printed

        self.app.run_worker(job, self._filed, self._refused, name="ui-complaint")

    def _filed(self, result: Any) -> None:
        ticket, printed = result
        self.ids.keypad.clear()
        self._form = {}
        self.app.go("ticket", ticket=ticket, printed=printed)

    def _refused(self, exc: BaseException) -> None:
        code = error_code(exc, "error")
        log.info("ui.complaint_refused code=%s", code)
        self.notify(REFUSALS.get(code, "Something went wrong"))

    def back(self) -> None:
        self.app.go("complaint")

    def wipe(self) -> None:
        super().wipe()
        self._form = {}
        self.ids.keypad.clear()


class TicketScreen(FlowScreen):
    """After filing: the ticket and its QR. Opened from the menu: scan a ticket to see its status."""

    flow = "complaint"
    mode = StringProperty("lookup")  # filed | lookup | status
    kind = StringProperty("complaint")  # complaint | request (the ticket scanned)
    ticket_id = StringProperty("")
    url = StringProperty("")
    status = StringProperty("")
    replies = ListProperty([])
    printed = StringProperty("")

    def enter(self, ticket: Any = None, printed: bool = False, **_: Any) -> None:
        super().enter()
        self.replies, self.status, self.kind = [], "", "complaint"
        if ticket is not None:
            self.mode, self.ticket_id, self.url = "filed", ticket.ticket_id, ticket.status_url
            self.printed = "yes" if printed else "no"
        else:
            self.mode, self.ticket_id, self.url, self.printed = "lookup", "", "", ""

    def on_enter(self, *_: Any) -> None:
        if self.mode == "lookup":
            self.ids.camera.start()

    def on_leave(self, *_: Any) -> None:
        self.ids.camera.stop()

    def on_scan(self, event: ScanEvent) -> bool:
        if not isinstance(event, SignedScanned) or event.code.prefix not in ("C1", "R1"):
            return False
        code = event.code
        desk = self.services.complaints if code.prefix == "C1" else self.services.broadcast
        if desk is None:
            self.notify("This service is not available here")
            return True
        self.app.run_worker(lambda: desk.status(code.raw), self._status, self._failed, name="ui-ticket")
        return True

    def _status(self, st: Any) -> None:
        self.kind = "request" if hasattr(st, "request_id") else "complaint"
        self.mode, self.status = "status", st.status
        self.ticket_id = st.request_id if self.kind == "request" else st.ticket_id
        self.replies = [r.get("text", "") for r in getattr(st, "replies", ()) if r.get("author") == "staff"]

    def _failed(self, exc: BaseException) -> None:
        self.notify(REFUSALS.get(error_code(exc, ""), "Something went wrong"))

    def headline(self, mode: str, ticket_id: str, status: str, lang: str) -> str:
        t = self.app.t
        if mode == "lookup":
            return t("Show your ticket's QR code to the camera", lang)
        if self.kind == "request":
            words = REQUEST_STATUS_MSGIDS
            head = t("Announcement request", lang) + " " + ticket_id
        else:
            words, head = STATUS_MSGIDS, t("Ticket {ticket}", lang).format(ticket=ticket_id)
        if mode == "status":
            return head + "\n" + t(words.get(status, "Not known yet: please try again later"), lang)
        return head

    def done(self) -> None:
        if self.mode == "filed":
            self.app.go("rating", flow="complaint")
        else:
            self.go_home()

    def wipe(self) -> None:
        super().wipe()
        self.ticket_id, self.url, self.replies, self.status = "", "", [], ""
        self.ids.camera.stop()
