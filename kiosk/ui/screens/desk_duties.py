"""The desk's written duties (issue 17): staff mode's supplies, bag-storage procedures and shift handover, and the
shopper's "first aid & sewing kits" under More services. Screens render what the services return; the rules
(who may release a bag, what a handover holds) are the services'."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty

from kiosk.services.scanning import ScanEvent, StaffScanned
from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.screens.desk_lostfound import _frame_jpeg
from kiosk.ui.services import error_code
from kiosk.ui.widgets import ChoiceButton, KButton, KLabel

log = logging.getLogger(__name__)

KIND_WORDS = {"free": "Free, yours to keep", "returnable": "Lent, please bring it back",
              "consumable": "Used up at the desk"}
CONDITIONS = ("ok", "damaged", "expired")
CONDITION_WORDS = {"ok": "Good", "damaged": "Damaged", "expired": "Expired"}
REFUSALS = {
    "staff_required": "Staff only: scan your staff badge first",
    "witness_required": "A second staff member must show their badge",
    "invalid_contents": "Describe what is in the bag",
    "invalid_id": "Enter the ID number (4-20 letters or digits)",
    "invalid_description": "Describe what happened",
    "invalid_supervisor": "Name the supervisor",
    "invalid_photos": "Take a photo with the camera",
    "not_overnight": "This bag may still be collected today",
    "not_held": "This bag is not in the lockers",
    "out_of_stock": "None left: please restock",
    "none_out": "None of these is out on loan",
    "check_incomplete": "Count every item",
    "incoming_required": "The incoming staff member shows their badge and PIN",
    "same_staff": "The incoming staff member must be someone else",
}


def refusal(exc: BaseException) -> str:
    return REFUSALS.get(error_code(exc, ""), "Please check the form: {field}")


class StaffOnly(FlowScreen):
    """A staff-mode screen: without a signed-in staff member it goes home."""

    staff_only = True
    home_button = False

    def enter(self, **params: Any) -> None:
        super().enter(**params)
        if self.app.session.get("staff") is None:
            self.app.go("home")

    @property
    def staff(self) -> Any:
        return self.app.session.get("staff")

    def refused(self, exc: BaseException) -> None:
        self.notify(refusal(exc), field=error_code(exc, "?"))

    def back(self) -> None:
        self.app.go("duties")


class SecondBadge(StaffOnly):
    """A second staff member signs on this screen: their badge to the camera, then their PIN on the keypad."""

    second_id = StringProperty("")
    second_ok = BooleanProperty(False)
    _second_badge: Any = None
    _second: Any = None

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self._keypad = self.ids.keypad.__self__  # a strong reference: `ids` are weak, and it leaves its layout
        self.bind(second_id=self._keypad_shown, second_ok=self._keypad_shown)
        self._keypad_shown()

    def _keypad_shown(self, *_: Any) -> None:
        """The keypad takes room only while a scanned badge waits for its PIN."""
        self.show_widget(self._keypad, bool(self.second_id) and not self.second_ok)

    def reset_second(self) -> None:
        self._second_badge, self._second, self.second_id, self.second_ok = None, None, "", False
        if hasattr(self, "_keypad"):
            self._keypad.clear()
            self._keypad.on_ok = self.second_pin

    def on_scan(self, event: ScanEvent) -> bool:
        if not isinstance(event, StaffScanned) or self.services.staff is None:
            return False
        try:
            badge = self.services.staff.verify_badge(event.badge.raw)
        except Exception as exc:
            self.refused(exc)
            return True
        if self.staff is not None and badge.staff_id == self.staff.staff_id:
            self.notify(REFUSALS["witness_required"])
            return True
        self._second_badge, self._second, self.second_ok = badge, None, False
        self.second_id = badge.staff_id
        self.notify("Badge {staff_id}: enter the PIN", ok=True, staff_id=badge.staff_id)
        return True

    def second_pin(self, pin: str) -> None:
        staff, badge = self.services.staff, self._second_badge
        if staff is None or badge is None:
            self.notify(REFUSALS["witness_required"])
            return
        self._keypad.clear()
        self.app.run_worker(lambda: staff.sign_in(badge, pin), self._second_signed, self.refused, name="ui-badge2")

    def _second_signed(self, session: Any) -> None:
        self._second, self.second_ok = session, True
        self.notify("{staff_id} signed", ok=True, staff_id=session.staff_id)

    def wipe(self) -> None:
        super().wipe()
        self.reset_second()


class DutiesScreen(StaffOnly):
    """Staff mode: the desk's duties, with what needs doing now."""

    summary = StringProperty("")

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self.app.bind(lang=self.refresh)

    def enter(self, **params: Any) -> None:
        super().enter(**params)
        self.refresh()

    def refresh(self, *_: Any) -> None:
        t, lang, parts = self.app.t, self.app.lang, []
        supplies, procedures = self.services.supplies, self.services.procedures
        if supplies is not None:
            low = [s.name(lang) for s in supplies.stock() if s.low]
            if low:
                parts.append(t("Low: {items}", lang).format(items=("、" if lang.startswith("zh") else ", ").join(low)))
            if supplies.check_overdue():
                parts.append(t("The count-and-condition check is due", lang))
        if procedures is not None:
            parts.append(t("Bags in storage: {n}, after closing: {m}", lang).format(
                n=len(procedures.held()), m=len(procedures.overnight())))
        self.summary = "\n".join(parts) or t("Nothing is waiting", lang)

    def back(self) -> None:
        self.app.go("diagnostics")


def button_row(cols: int) -> Any:
    """A row of `cols` equal controls under an item's line (the line gets the full width to itself)."""
    from kivy.app import App
    from kivy.uix.gridlayout import GridLayout

    row = GridLayout(cols=cols, spacing=App.get_running_app().pad, size_hint_y=None)
    row.bind(minimum_height=row.setter("height"))
    return row


class SupplyRows:
    """A screen listing the supplies one row per item (`add_row`), rebuilt on entering; its widgets are given
    their `words` (kiosk/ui/widgets.py `Worded`), so a language switch relabels them in place."""

    app: Any
    ids: Any
    services: Any

    def enter(self, **params: Any) -> None:
        super().enter(**params)  # type: ignore[misc]
        self.build_rows()

    def build_rows(self, *_: Any) -> None:
        grid = self.ids.rows
        grid.clear_widgets()
        supplies, t, lang = self.services.supplies, self.app.t, self.app.lang
        if supplies is None:
            grid.add_widget(KLabel(words=lambda lg: t("This service is not available here", lg)))
            return
        for supply in supplies.stock():
            self.add_row(grid, supply, t, lang)

    def add_row(self, grid: Any, s: Any, t: Any, lang: str) -> None:
        raise NotImplementedError

    @staticmethod
    def _words(t: Any, msgid: str) -> Callable[[str], str]:
        return lambda lg: str(t(msgid, lg))


class StaffSuppliesScreen(SupplyRows, StaffOnly):
    """Hand out, take back and restock service supplies; the check is its own screen."""

    def add_row(self, grid: Any, s: Any, t: Any, lang: str) -> None:
        mark = "⚠ " if s.low else ""

        def line(lg: str) -> str:
            out = t(", {n} out", lg).format(n=s.out) if s.kind == "returnable" else ""
            return f"{mark}{s.name(lg)}  {s.stock}/{s.full}{out}"

        grid.add_widget(KLabel(halign="left", words=line))
        row = button_row(3)
        for label, action, enabled in (("Hand out", "out", s.stock > 0),
                                       ("Taken back", "back", s.kind == "returnable" and s.out > 0),
                                       ("Restock", "fill", s.stock < s.full)):
            button = KButton(disabled=not enabled, words=self._words(t, label))
            button.bind(on_release=lambda _w, item=s.item, a=action: self.act(item, a))
            row.add_widget(button)
        grid.add_widget(row)

    def act(self, item: str, action: str) -> None:
        supplies, session = self.services.supplies, self.staff
        if supplies is None or session is None:
            return
        try:
            if action == "out":
                done = supplies.hand_out(item, staff_id=session.staff_id)
            elif action == "back":
                done = supplies.take_back(item, session.staff_id)
            else:
                current = supplies.supply(item)
                done = supplies.restock(item, current.full - current.stock, session.staff_id)
        except Exception as exc:
            self.refused(exc)
            return
        self.build_rows()
        self.notify("{item}: {stock} left", ok=True, item=done.name(self.app.lang), stock=done.stock)


class SuppliesCheckScreen(SupplyRows, StaffOnly):
    """充足与完好: count each item and say its condition; saving makes the counts the stock and logs the check."""

    counts: dict[str, int] = {}
    conditions: dict[str, str] = {}

    def enter(self, **params: Any) -> None:
        supplies = self.services.supplies
        stock = supplies.stock() if supplies is not None else []
        self.counts = {s.item: s.stock for s in stock}
        self.conditions = {s.item: "ok" for s in stock}
        super().enter(**params)

    def add_row(self, grid: Any, s: Any, t: Any, lang: str) -> None:
        grid.add_widget(KLabel(halign="left", words=lambda lg: t("{item} (full {full})", lg).format(
            item=s.name(lg), full=s.full)))
        row = button_row(4)
        for label, step in (("−", -1), ("+", 1)):
            button = KButton(text=label)
            button.bind(on_release=lambda _w, item=s.item, d=step: self.step(item, d))
            row.add_widget(button)
            if step < 0:
                row.add_widget(KLabel(text=str(self.counts.get(s.item, 0)), bold=True, font_size=self.app.fs_h2))
        cond = ChoiceButton(msgid=CONDITION_WORDS[self.conditions.get(s.item, "ok")],
                            chosen=self.conditions.get(s.item, "ok") == "ok")
        cond.bind(on_release=lambda _w, item=s.item: self.cycle(item))
        row.add_widget(cond)
        grid.add_widget(row)

    def step(self, item: str, delta: int) -> None:
        self.counts[item] = max(0, min(1000, self.counts.get(item, 0) + delta))
        self.build_rows()

    def cycle(self, item: str) -> None:
        now = self.conditions.get(item, "ok")
        self.conditions[item] = CONDITIONS[(CONDITIONS.index(now) + 1) % len(CONDITIONS)]
        self.build_rows()

    def save(self) -> None:
        from kiosk.services.supplies import CheckLine

        supplies, session = self.services.supplies, self.staff
        if supplies is None or session is None:
            return
        lines = [CheckLine(item, self.counts.get(item, 0), self.conditions.get(item, "ok"))  # type: ignore[arg-type]
                 for item in self.counts]
        try:
            due = supplies.check(session.staff_id, lines)
        except Exception as exc:
            self.refused(exc)
            return
        self.notify("Check saved; next due {when}", ok=True, when=datetime.fromtimestamp(due).strftime("%m-%d %H:%M"))

    def back(self) -> None:
        self.app.go("staff_supplies")


class StaffStorageScreen(SecondBadge):
    """Bag storage in staff mode: the bags held (after closing marked), then lost tag / overnight / damage."""

    selected = StringProperty("")
    overnight_ids = ListProperty([])

    def enter(self, **params: Any) -> None:
        super().enter(**params)
        self.reset_second()
        self.selected = ""
        for field in ("contents", "id_number", "supervisor"):
            self.ids[field].text = ""
        self.build_rows()

    def build_rows(self, *_: Any) -> None:
        grid = self.ids.rows
        grid.clear_widgets()
        procedures, t = self.services.procedures, self.app.t
        if procedures is None:
            grid.add_widget(KLabel(words=lambda lg: t("This service is not available here", lg)))
            return
        self.overnight_ids = [b.deposit_id for b in procedures.overnight()]
        bags = procedures.held()
        if not bags:
            grid.add_widget(KLabel(words=lambda lg: t("No bags in the lockers", lg)))
        for bag in bags:
            since = datetime.fromtimestamp(bag.started_at).strftime("%m-%d %H:%M")
            night = bag.deposit_id in self.overnight_ids

            def words(lg: str, bag: Any = bag, since: str = since, night: bool = night) -> str:
                return f"{bag.locker_id} #{bag.slot} · {since}" + (" · ⚠ " + t("after closing", lg) if night else "")

            choice = ChoiceButton(words=words, chosen=bag.deposit_id == self.selected)
            choice.bind(on_release=lambda _w, d=bag.deposit_id: self.select(d))
            grid.add_widget(choice)

    def select(self, deposit_id: str) -> None:
        self.selected = deposit_id
        self.build_rows()

    def _run(self, job: Any, done_msgid: str) -> None:
        if not self.selected:
            self.notify("Choose a bag first")
            return
        self.app.run_worker(job, lambda incident: self._done(incident, done_msgid), self.refused, name="ui-storage")

    def _done(self, incident: Any, msgid: str) -> None:
        self.selected = ""
        for field in ("contents", "id_number", "supervisor"):
            self.ids[field].text = ""
        self.reset_second()
        self.build_rows()
        self.notify(msgid, ok=True, record=incident.incident_id, item=incident.found_item_id or "")

    def lost_tag(self) -> None:
        procedures, session, deposit = self.services.procedures, self.staff, self.selected
        contents, id_number = self.ids.contents.text, self.ids.id_number.text
        if procedures is None:
            return
        self._run(lambda: procedures.release_lost_tag(session, deposit, contents, id_number),
                  "Released; recorded as {record}")

    def overnight(self) -> None:
        procedures, session, witness, deposit = self.services.procedures, self.staff, self._second, self.selected
        contents = self.ids.contents.text
        if procedures is None:
            return
        self._run(lambda: procedures.open_overnight(session, witness, deposit, contents),
                  "Opened; now found item {item}")

    def damage(self) -> None:
        procedures, session, deposit = self.services.procedures, self.staff, self.selected
        description, supervisor = self.ids.contents.text, self.ids.supervisor.text
        scanning = self.services.scanning
        photo = _frame_jpeg(scanning.latest_frame()) if scanning is not None else None
        if procedures is None:
            return
        photos = [photo] if photo else []
        self._run(lambda: procedures.record_damage(session, deposit, description, supervisor, photos),
                  "Damage recorded as {record}")


class HandoverScreen(SecondBadge):
    """交接班: the counts as they are now, a note, and the incoming staff member's badge + PIN."""

    draft_text = StringProperty("")
    _draft: Any = None

    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        self.app.bind(lang=self.refresh)

    def enter(self, **params: Any) -> None:
        super().enter(**params)
        self.reset_second()
        self.ids.note.text = ""
        self.refresh()

    def refresh(self, *_: Any) -> None:
        handover, t, lang = self.services.handover, self.app.t, self.app.lang
        if handover is None:
            self.draft_text = t("This service is not available here", lang)
            return
        d = self._draft = handover.draft()
        supplies = self.services.supplies
        names = {s.item: s.name(lang) for s in supplies.stock()} if supplies is not None else {}
        offline = t("offline", lang)
        lockers = "  ".join(f"{lid} {c['items']}" + (f" ⚠{c['fault']}" if c["fault"] else "")
                            + ("" if c["online"] else f" ({offline})") for lid, c in d.lockers.items())
        desk = "  ".join(f"{names.get(k, k)} {n}" for k, n in d.desk.items())
        open_words = {"found_held": t("found items held", lang), "lost_reports": t("lost reports", lang),
                      "complaints": t("complaints", lang), "bags_stored": t("bags stored", lang),
                      "requests": t("find-a-person requests", lang)}
        work = "  ".join(f"{open_words.get(k, k)} {n}" for k, n in d.open.items())
        lines = [t("Items in lockers: {counts}", lang).format(counts=lockers),
                 t("At the desk: {counts}", lang).format(counts=desk or "—"),
                 t("Open: {counts}", lang).format(counts=work),
                 t("Device problems: {problems}", lang).format(problems="; ".join(d.problems) or "—")]
        self.draft_text = "\n".join(lines)

    def sign(self) -> None:
        handover, session, incoming = self.services.handover, self.staff, self._second
        if handover is None:
            return
        note, draft = self.ids.note.text, self._draft
        self.app.run_worker(lambda: handover.sign(session, incoming, note, draft), self._signed, self.refused,
                            name="ui-handover")

    def _signed(self, done: Any) -> None:
        self.ids.note.text = ""
        self.reset_second()
        self.notify("Handover signed by {outgoing} and {incoming}; it will be sent to the centre", ok=True,
                    outgoing=done.outgoing, incoming=done.incoming)


class SuppliesScreen(SupplyRows, FlowScreen):
    """Shoppers: the free service supplies and where to get them (the desk hands them out; a locker item opens
    its door)."""

    flow = "supplies"
    taken = NumericProperty(0)

    def add_row(self, grid: Any, s: Any, t: Any, lang: str) -> None:
        def line(lg: str) -> str:
            there = t("{n} available", lg).format(n=s.stock) if s.stock > 0 else t("Out of stock", lg)
            return f"{s.name(lg)} — {t(KIND_WORDS[s.kind], lg)} · {there}"

        grid.add_widget(KLabel(words=line, halign="left"))
        if s.where == "locker":
            button = KButton(words=self._words(t, "Take one"), disabled=s.stock <= 0)
            button.bind(on_release=lambda _w, item=s.item: self.take(item))
            grid.add_widget(button)
        else:   # words, not a greyed button that cannot be pressed
            where = KLabel(words=self._words(t, "Ask at the service desk"))
            where.color = self.app.c_muted
            grid.add_widget(where)

    def take(self, item: str) -> None:
        supplies = self.services.supplies
        if supplies is None:
            return
        self.app.run_worker(lambda: supplies.hand_out(item), self._taken, lambda exc: self.notify(refusal(exc)),
                            name="ui-supplies")

    def _taken(self, supply: Any) -> None:
        self.taken = time.time()
        self.build_rows()
        self.notify("The door is open: please take one and close it", ok=True)
