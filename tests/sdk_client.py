"""Reading events with Microsoft's SDK as the client, for the conformance tests (imported after their
`importorskip`, so a missing SDK skips them instead of breaking collection)."""

from __future__ import annotations

import asyncio
from typing import Any

from azure.ai.voicelive import models as m


async def until(conn: Any, kind: str, seen: list[Any], timeout: float = 15) -> Any:
    """Receive until an event of `kind`, keeping every event in `seen`; each must be typed by the SDK."""
    async def loop() -> Any:
        while True:
            event = await conn.recv()
            seen.append(event)
            assert type(event) is not m.ServerEvent, f"the SDK could not type {event.get('type')}"
            if event.type == kind:
                return event

    return await asyncio.wait_for(loop(), timeout)
