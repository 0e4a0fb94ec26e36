"""A plain-language message (refusals, faults) with an icon and words, never colour alone."""
from __future__ import annotations

from typing import Any

from kivy.properties import StringProperty

from kiosk.ui.screens.base import FlowScreen

# code → (headline msgid, advice msgid); codes come from the services' exceptions
MESSAGES: dict[str, tuple[str, str]] = {
    "locker_offline": ("The locker is offline", "Please use another station or ask the service desk."),
    "none_available": ("None left here right now", "Please try another station or come back later."),
    "limit_reached": ("You already have one borrowed", "Please return it first, then borrow again."),
    "overdue": ("You have an overdue item", "Please return it or pay at the service desk first."),
    "unpaid_fee": ("You have an unpaid fee", "Please pay it at the service desk first."),
    "no_answer": ("The locker did not answer", "Nothing was charged. Please try again."),
    "not_taken": ("The door closed before the item was taken", "Nothing was charged. Please try again."),
    "busy": ("The locker is busy", "Please try again in a moment."),
    "disk_full": ("This station cannot lend right now", "No door was opened and nothing was charged. "
                  "Please use another station or ask the service desk."),
    "disk_full_taken": ("Please take your item", "The station will record this loan shortly. "
                        "No receipt now: your loan shows in the member app."),
    "service_missing": ("This service is not available here", "Please ask the service desk."),
    "camera_gone": ("The camera is not working", "Please ask the service desk."),
    "token_rejected": ("Sorry, that is not a code we know.", "Please refresh your member code and try again."),
    "error": ("Something went wrong", "Nothing was charged. Please ask the service desk."),
}


class MessageScreen(FlowScreen):
    keep_in_history = False
    home_button = False     # "Back to start" is the way home; Back returns to where it happened
    code = StringProperty("error")
    headline = StringProperty("")
    advice = StringProperty("")
    detail = StringProperty("")

    def enter(self, code: str = "error", detail: str = "", **_: Any) -> None:
        super().enter()
        self.code = code if code in MESSAGES else "error"
        self.headline, self.advice = MESSAGES[self.code]
        self.detail = detail

    def spoken(self) -> str:
        return f"{self.app.t(self.headline)}. {self.app.t(self.advice)}"

    def wipe(self) -> None:
        super().wipe()
        self.detail = ""
