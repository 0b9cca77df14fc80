"""ConfigSync and configuration changes as data, without sockets: the rules the session relies on."""

from __future__ import annotations

import pytest

from app.protocol import changes
from app.protocol.changes import nudge
from app.protocol.session import SessionConfig, TurnDetection
from app.voicelive.config_sync import ConfigSync


class Wire:
    """Stands in for the outbox: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, SessionConfig]] = []

    def send(self, config: SessionConfig) -> str:
        self.sent.append((f"u{len(self.sent)}", config))
        return self.sent[-1][0]


def _threshold(config: SessionConfig | None) -> float:
    assert config is not None and config.turn_detection is not None
    return config.turn_detection.threshold


def test_changes_while_one_is_in_flight_coalesce_into_one_update() -> None:
    wire = Wire()
    sync = ConfigSync(SessionConfig(), send=wire.send, changed=lambda: None)
    sync.connected()
    sync.updated("u0")
    futures = [sync.request(nudge("threshold", 0.05, 0, 1)) for _ in range(5)]
    assert len(wire.sent) == 2 and _threshold(wire.sent[1][1]) == pytest.approx(0.35)
    sync.updated(None)  # the service need not echo our id
    assert len(wire.sent) == 3 and _threshold(wire.sent[2][1]) == pytest.approx(0.55)
    assert futures[0].done() and not futures[1].done()
    sync.updated("u2")
    assert all(f.result().applied for f in futures) and not sync.pending
    assert _threshold(sync.confirmed) == pytest.approx(0.55)


def test_a_lost_connection_resends_the_desired_configuration_first() -> None:
    wire = Wire()
    sync = ConfigSync(SessionConfig(), send=wire.send, changed=lambda: None)
    sync.connected()
    sync.updated("u0")
    future = sync.request(nudge("silence_duration_ms", 100, 0, 10000))
    sync.disconnected()
    queued = sync.request(nudge("silence_duration_ms", 100, 0, 10000))
    assert queued.result().queued and not future.done()
    sync.connected()  # a new connection: everything desired goes out at once, whatever was confirmed
    assert wire.sent[-1][1].turn_detection is not None and wire.sent[-1][1].turn_detection.silence_duration_ms == 400
    sync.updated(wire.sent[-1][0])
    assert future.result().applied


def test_an_impossible_change_is_refused_without_sending() -> None:
    wire = Wire()
    sync = ConfigSync(SessionConfig(turn_detection=None), send=wire.send, changed=lambda: None)
    sync.connected()
    outcome = sync.request(nudge("threshold", 0.05, 0, 1)).result()
    assert not outcome.applied and "Turn detection is off" in (outcome.reason or "")
    assert len(wire.sent) == 1


def test_diff_and_apply_carry_only_what_changed() -> None:
    base = SessionConfig()
    edited = base.model_copy(update={"turn_detection": TurnDetection(type="server_vad", threshold=0.6),
                                     "instructions": "be brief"})
    diff = changes.diff(base, edited)
    assert ("instructions",) in diff and ("turn_detection", "threshold") in diff
    assert ("voice", "name") not in diff
    moved = base.model_copy(update={"voice": base.voice.model_copy(update={"name": "alloy", "type": "openai"})})
    merged = changes.apply(moved, diff)
    assert merged.voice.name == "alloy" and merged.instructions == "be brief" and _threshold(merged) == 0.6
    off = changes.diff(base, base.model_copy(update={"turn_detection": None}))
    assert off == {("turn_detection",): None} and changes.apply(base, off).turn_detection is None
