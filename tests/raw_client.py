"""A minimal raw-websockets client for poking the emulator event by event."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import ClientConnection, connect

from app.emulator.server import EmulatorServer


class RawClient:
    def __init__(self, server: EmulatorServer, *, model: str = "gpt-4o") -> None:
        self.url = f"ws://127.0.0.1:{server.port}/voice-live/realtime?api-version=2026-07-15&model={model}"
        self.key = server.api_key
        self.ws: ClientConnection | None = None
        self.events: list[dict[str, Any]] = []

    async def __aenter__(self) -> RawClient:
        self.ws = await connect(self.url, additional_headers={"api-key": self.key}, max_size=2**24)
        await self.until("session.created")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.ws is not None
        await self.ws.close()

    async def send(self, event: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(event))

    async def update(self, **session: Any) -> dict[str, Any]:
        await self.send({"type": "session.update", "session": session})
        return await self.until("session.updated", "error")

    async def audio(self, pcm: npt.NDArray[np.int16]) -> None:
        for start in range(0, len(pcm), 480):
            chunk = pcm[start : start + 480].tobytes()
            await self.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()})

    async def until(self, *kinds: str, timeout: float = 15) -> dict[str, Any]:
        assert self.ws is not None

        async def loop() -> dict[str, Any]:
            while True:
                event = json.loads(await self.ws.recv())  # type: ignore[union-attr]
                self.events.append(event)
                if event["type"] in kinds:
                    return dict(event)

        return await asyncio.wait_for(loop(), timeout)

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Collect whatever arrives for `seconds`."""
        assert self.ws is not None
        got: list[dict[str, Any]] = []
        try:
            while True:
                got.append(json.loads(await asyncio.wait_for(self.ws.recv(), seconds)))
        except asyncio.TimeoutError:
            return got

    def kinds(self) -> list[str]:
        return [e["type"] for e in self.events]
