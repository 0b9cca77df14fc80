"""How the emulator behaves: service-like timing, limits, and fault knobs for tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EmulatorOptions:
    """How the emulator behaves. Sessions read these live, so a test may change one mid-connection."""

    speed: float = 4.0  # reply audio is sent this many times faster than real time
    chunk_ms: int = 40  # audio per response.audio.delta
    vad_delay_ms: int = 0  # speech_started/stopped are reported this much input audio after their cause
    net_jitter_ms: float = 0.0  # each audio delta leaves up to ± this much off its pace (order kept)
    jitter_seed: int | None = None  # set: every reply's jitter is the same sequence (paired benchmark runs)
    semantic_eou: bool = False  # end_of_utterance_detection waits its timeout longer after a rising pitch
    session_cap_s: float = 3600.0  # the service closes every session after 60 minutes
    accept_any_token: bool = False  # accept any non-empty bearer token (tests of Entra paths opt in)
    bearer_token: str | None = None  # accept this one bearer token
    max_connections: int = 64  # concurrent connections; more are refused with HTTP 503
    keep_closed_sessions: int = 0  # closed sessions kept in `EmulatorServer.sessions` for tests to inspect
    latency_ms: float = 0.0  # added before every event sent
    drop_after_s: float | None = None  # abort the TCP connection (no close frame) after this long
    drop_after_events: int | None = None  # ...or after sending this many events
    error_after_events: int | None = None  # send a server_error event after this many events
    unknown_event_every: int | None = None  # send an event of an unknown type every N events

    def describe(self) -> str:
        """One line naming what is active, for `serve` to print at start-up."""
        parts = [f"replies at {self.speed:g}x real time in {self.chunk_ms} ms chunks",
                 f"VAD delay {self.vad_delay_ms} ms",
                 "end of utterance heard from pitch" if self.semantic_eou else "end of utterance by silence only",
                 f"up to {self.max_connections} connections",
                 "any bearer token accepted" if self.accept_any_token else "API key only"
                 if self.bearer_token is None else "API key or the configured bearer token",
                 f"sessions close after {self.session_cap_s:g} s"]
        faults = [template.format(value) for template, value in (
            ("network jitter ±{:g} ms", self.net_jitter_ms), ("{:g} ms latency per event", self.latency_ms),
            ("drop after {:g} s", self.drop_after_s), ("drop after {} events", self.drop_after_events),
            ("a server error after {} events", self.error_after_events),
            ("an unknown event every {} events", self.unknown_event_every),
        ) if value]
        return "; ".join(parts) + (". Faults: " + ", ".join(faults) if faults else "") + "."
