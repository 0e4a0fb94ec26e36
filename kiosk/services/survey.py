"""Satisfaction ratings (1–5) asked at the end of every flow, sent to the centre through the outbox."""
from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk.store import Store

log = logging.getLogger(__name__)


class SurveyError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flow: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    score: int = Field(ge=1, le=5)
    lang: Literal["zh_CN", "en"]


class SurveyService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def rate(self, flow: str, score: int, lang: str) -> int:
        """Record one rating; returns the outbox seq."""
        try:
            rating = Rating(flow=flow, score=score, lang=lang)  # type: ignore[arg-type]
        except ValidationError as exc:
            field = ".".join(str(p) for p in exc.errors()[0]["loc"])
            raise SurveyError(f"invalid_{field}", f"rating {field} is not valid") from exc
        seq = self.store.record_event("survey.rated", rating.model_dump())
        log.info("survey.rated flow=%s score=%d lang=%s", rating.flow, rating.score, rating.lang)
        return seq
