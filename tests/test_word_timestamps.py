"""Word timestamps end to end: an interrupted reply's transcript is cut at the last word heard.

The real App under Pilot, real audio on the virtual devices, the emulator over websockets. What was heard
is worked out from the emulator's side alone — the `audio_end_ms` it received in the truncate and the word
timestamps it sent — and compared with what the app shows and writes to its transcript.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.audio.engine import AudioEngine
from app.config import load_settings
from app.emulator.server import EmulatorOptions, EmulatorServer
from app.services import Services
from app.tui import VoiceLiveApp
from app.widgets.turn import AssistantTurn
from tests.helpers import wait_for

STORY = ("please tell me everything about the sea the ships the harbour the lighthouse the gulls the tides "
         "and the long grey evenings by the water")


async def test_an_interrupted_reply_is_cut_at_the_last_word_heard(audio_devices: None, tmp_path: Path) -> None:
    settings = load_settings({("connection", "local"): True}, environ={})
    emulator = EmulatorServer(options=EmulatorOptions(speed=1.0))  # real time: the reply is still playing
    engine = AudioEngine(jitter_ms=80)
    app = VoiceLiveApp(settings, Services(engine=engine, emulator=emulator,
                                          transcript_dir=str(tmp_path / "transcripts")))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.main.status.state == "connected" and engine.active, timeout=15)
        # Asked by default, in the session.update that follows the connection (it may still be on its way).
        await wait_for(lambda: emulator.sessions[-1].session.get("output_audio_timestamp_types") == ["word"], 5)
        app.control.send_text(STORY)
        await wait_for(lambda: app.main.query(AssistantTurn), timeout=15)
        item_id = app.main.query(AssistantTurn)[0].item_id
        await wait_for(lambda: engine.playback.played_ms(item_id) > 1500, timeout=15)
        await pilot.press("i")
        turn = app.main.query(AssistantTurn)[0]
        await wait_for(lambda: turn.has_class("-interrupted"), timeout=10)
        reply = emulator.sessions[-1].replies[item_id]
        await wait_for(lambda: reply.truncated_at_ms is not None, timeout=5)
        heard_ms = reply.truncated_at_ms
        assert heard_ms is not None
        stamps = [e for _, e in emulator.sessions[-1].sent
                  if e["type"] == "response.audio_timestamp.delta" and e["item_id"] == item_id]
        full = next(e["transcript"] for _, e in emulator.sessions[-1].sent
                    if e["type"] == "response.audio_transcript.done" and e["item_id"] == item_id)
        heard = " ".join(e["text"] for e in stamps if e["audio_offset_ms"] < heard_ms)
        assert heard and full.startswith(heard) and len(heard) < len(full)  # cut inside the reply, at a word
        assert turn.text == heard
        await pilot.press("q")
    records = [json.loads(line) for line in app.transcript_path.read_text().splitlines()]
    assistant = [r for r in records if r["role"] == "assistant"][-1]
    assert (assistant["text"], assistant["interrupted_at_ms"], assistant["status"]) == (heard, heard_ms, "cancelled")
