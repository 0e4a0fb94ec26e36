"""广播寻人 / 寻物: who or what (kind, then gender + clothes colour or the item), floor, how long ago, then a
call-back number on the keypad (masked as soon as it is complete) → a ticket with a status QR.

No camera, no photo, no free text for shoppers: a few touches. Staff mode reaches the same screens from
diagnostics; the request is then filed under the staff badge. Scanning the ticket at the "Complaint status"
screen (it reads both kinds of ticket) shows the request's status.
"""
from __future__ import annotations

import logging
from typing import Any

from kivy.properties import StringProperty

from kiosk.privacy import mask_phone
from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.screens.desk_complaint import CategoryFloorScreen, _choice
from kiosk.ui.screens.desk_lostfound import CATEGORIES as ITEM_CATEGORIES
from kiosk.ui.services import error_code
from mallcommon import vocabulary
from mallcommon.vocabulary import COLOUR_WORDS, COLOURS, GENDER_WORDS, REQUEST_KINDS, REQUEST_WORDS, english

log = logging.getLogger(__name__)

KINDS = [(k, english(REQUEST_WORDS, k)) for k in REQUEST_KINDS]
LOOKS = [(g, english(GENDER_WORDS, g)) for g in GENDER_WORDS] + [(c, english(COLOUR_WORDS, c)) for c in COLOURS]
# What people ask the desk to announce most; the rest is "Other" (two rows of four, so the screen fits low reach).
ITEMS = [(c, m) for c, m in ITEM_CATEGORIES if c in ("phone", "wallet", "bag", "keys", "documents", "cards", "kids",
                                                      "other")]
SEEN = [(str(m), f"{m} min") for m in vocabulary.SEEN_MINUTES]
REFUSALS = {"phone_invalid": "Please enter an 11-digit mobile number"}


class RequestScreen(CategoryFloorScreen):
    """`category` holds a gender, a colour or an item category in the `categories` grid, by kind."""

    flow = "request"
    kind = StringProperty("")
    gender = StringProperty("")
    colour = StringProperty("")
    seen = StringProperty("")

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        _choice(self, "kinds", KINDS, "kind")
        _choice(self, "floors", [(f, f) for f in vocabulary.FLOORS], "floor")
        _choice(self, "seens", SEEN, "seen")
        self._details()
        self.app.bind(large_text=self._details)

    def on_kind(self, *_: Any) -> None:
        self._mark("kinds", self.kind)
        self.gender = self.colour = self.category = ""
        self._details()

    def on_seen(self, *_: Any) -> None:
        self._mark("seens", self.seen)

    def on_category(self, *_: Any) -> None:
        """A person's looks are two choices in one grid (gender and colour); an item's kind is one."""
        if self.kind != "item" and self.category:
            if self.category in GENDER_WORDS:
                self.gender = "" if self.gender == self.category else self.category
            else:
                self.colour = "" if self.colour == self.category else self.category
        for button in self.ids.categories.children + self.ids.genders.children:
            button.chosen = button.value in ((self.gender, self.colour) if self.kind != "item" else (self.category,))
        if self.kind != "item":
            self.category = ""

    def _details(self, *_: Any) -> None:
        box = self.ids.categories
        box.clear_widgets()
        self.ids.genders.clear_widgets()
        if self.kind != "item" and self.app.large_text:
            # "✓ Female" in large text is wider than a fifth of the screen: genders in a row of two, colours in
            # rows of four (three rows, where the other modes keep two so low reach fits the lower half)
            box.cols = 4
            _choice(self, "genders", LOOKS[:len(GENDER_WORDS)], "category")
            _choice(self, "categories", LOOKS[len(GENDER_WORDS):], "category")
        else:
            box.cols = 4 if self.kind == "item" else 5  # two rows either way: the screen fits the lower half
            _choice(self, "categories", ITEMS if self.kind == "item" else LOOKS, "category")
        self.on_category()

    def enter(self, staff: bool = False, **_: Any) -> None:
        super().enter()
        self.kind, self.floor, self.seen, self.gender, self.colour, self.category = "", "", "", "", "", ""
        self._staff = staff

    def next(self) -> None:
        if not (self.kind and self.floor and self.seen) or (self.kind == "item" and not self.category):
            self.notify("Please choose who or what, the floor and when")
            return
        form: dict[str, Any] = {"kind": self.kind, "floor": self.floor, "seen_minutes_ago": int(self.seen),
                                "lang": "en" if self.app.lang == "en" else "zh_CN"}
        if self.kind == "item":
            form["item_category"] = self.category
        else:
            form.update({k: v for k, v in (("gender", self.gender), ("colour", self.colour)) if v})
        staff = self.app.session.get("staff") if getattr(self, "_staff", False) else None
        self.app.go("request_phone", form=form, staff_id=getattr(staff, "staff_id", None))

    def wipe(self) -> None:
        super().wipe()
        self.kind, self.floor, self.seen, self.gender, self.colour, self.category = "", "", "", "", "", ""


class RequestPhoneScreen(FlowScreen):
    flow = "request"

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self.ids.keypad.on_ok = self.submit

    def enter(self, form: dict[str, Any] | None = None, staff_id: str | None = None, **_: Any) -> None:
        super().enter()
        self._form, self._staff_id = dict(form or {}), staff_id
        self.ids.keypad.clear()

    def shown(self, entered: str) -> str:
        return mask_phone(entered) if len(entered) >= 11 else entered

    def submit(self, phone: str | None) -> None:
        desk = self.services.broadcast
        if desk is None or not self._form:
            self.notify("This service is not available here")
            return
        fields, printing, staff_id = {**self._form, "phone": phone or ""}, self.services.printing, self._staff_id

        def job() -> tuple[Any, bool]:
            request = desk.file(staff_id=staff_id, **fields)
            printed = False
            if printing is not None:
                printed = bool(printing.print_receipt(desk.receipt(request)).printed)
            return request, printed

        self.app.run_worker(job, self._filed, self._refused, name="ui-request")

    def _filed(self, result: Any) -> None:
        request, printed = result
        self.ids.keypad.clear()
        self._form = {}
        self.app.go("request_ticket", request=request, printed=printed)

    def _refused(self, exc: BaseException) -> None:
        code = error_code(exc, "error")
        log.info("ui.request_refused code=%s", code)
        self.notify(REFUSALS.get(code, "Something went wrong"))

    def back(self) -> None:
        self.app.go("request")

    def wipe(self) -> None:
        super().wipe()
        self._form = {}
        self.ids.keypad.clear()


class RequestTicketScreen(FlowScreen):
    """After filing: what happens next, the masked number and the status QR."""

    flow = "request"
    request_id = StringProperty("")
    url = StringProperty("")
    phone = StringProperty("")
    printed = StringProperty("")

    def enter(self, request: Any = None, printed: bool = False, **_: Any) -> None:
        super().enter()
        if request is not None:
            self.request_id, self.url, self.phone = request.request_id, request.status_url, request.phone_masked
            self.printed = "yes" if printed else "no"

    def done(self) -> None:
        self.go_home()

    def wipe(self) -> None:
        super().wipe()
        self.request_id, self.url, self.phone, self.printed = "", "", "", ""
