"""The common shape of every Voice Live event: a `type` and an optional `event_id`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    TYPE: ClassVar[str] = ""
    type: str
    event_id: str | None = None


class ServerEvent(Event):
    """Base of every event the service sends (the parser registers each subclass by its `TYPE`)."""
