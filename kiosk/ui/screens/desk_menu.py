"""More services (the rest of the desk) and the 公开明示 notice: commitments, services, prices, hotlines."""
from __future__ import annotations

from typing import Any

from kivy.properties import StringProperty

from kiosk.ui.screens.base import FlowScreen
from kiosk.ui.screens.desk_complaint import ChoiceButton

# (icon, msgid, screen, params): the desk's flows, in the order the menu shows them
DESK_ENTRIES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("★", "Member centre", "member", {}),
    ("※", "Complaints and suggestions", "complaint", {}),
    ("?", "Complaint status", "ticket", {}),
    ("◎", "Find a shop", "directory", {}),
    ("◇", "Lost and found", "lostfound", {}),
    ("▣", "Bag storage", "storage", {}),
    ("ⓘ", "Services and prices", "info", {}),
    ("◆", "Register a found item (staff)", "found_register", {}),
]


class DeskMenuScreen(FlowScreen):
    def on_kv_post(self, *args: Any) -> None:
        super().on_kv_post(*args)
        for icon, msgid, screen, params in DESK_ENTRIES:
            button = ChoiceButton(value=screen, icon=icon, msgid=msgid)
            button.min_h = self.app.tgt * 1.4
            button.bind(on_release=lambda _w, s=screen, p=params: self.app.go(s, **p))
            self.ids.entries.add_widget(button)


class InfoScreen(FlowScreen):
    flow = "info"
    text = StringProperty("")

    def enter(self, **_: Any) -> None:
        super().enter()
        self.text = ""

    def notice_text(self, lang: str) -> str:
        directory = self.app.service("directory")
        if directory is None:
            return self.app.t("This service is not available here", lang)
        info = directory.content.info
        en = lang == "en"
        t = self.app.t
        names = {s.id: (s.en if en else s.zh) for s in info.services}
        lines = [t("Our commitments", lang)]
        lines += [f"• {c.en if en else c.zh}" for c in info.commitments]
        lines += ["", t("Services", lang)]
        lines += [f"• {s.en if en else s.zh} — {t('free', lang) if s.free else t('charged', lang)}"
                  for s in info.services]
        lines += ["", t("Price list", lang)]
        lines += [f"• {names.get(p.service, p.service)}: {p.en if en else p.zh}" for p in info.prices]
        lines += ["", t("Hotlines", lang)]
        lines += [f"☎ {h.en if en else h.zh}: {h.number}" for h in info.hotlines]
        return "\n".join(lines)
