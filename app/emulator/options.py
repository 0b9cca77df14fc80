"""How the emulator behaves: service-like timing, limits, and fault knobs for tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EmulatorOptions:
    """How the emulator behaves; the fault knobs exist for tests and benchmarks."""

    speed: float = 4.0  # reply audio is sent this many times faster than real time
    chunk_ms: int = 100  # audio per response.audio.delta
    session_cap_s: float = 3600.0  # the service closes every session after 60 minutes
    accept_any_token: bool = True  # any non-empty bearer token is accepted
    bearer_token: str | None = None  # ...unless a specific one is configured
    latency_ms: float = 0.0  # added before every event sent
    drop_after_s: float | None = None  # abort the TCP connection (no close frame) after this long
    drop_after_events: int | None = None  # ...or after sending this many events
    error_after_events: int | None = None  # send a server_error event after this many events
    unknown_event_every: int | None = None  # send an event of an unknown type every N events
