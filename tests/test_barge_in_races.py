"""Barge-in while the output device is still dropping its queue: what else can happen in those milliseconds.

Since the truncate waits for the device's flush (`ConversationTracker._truncate_when_flushed`), a reconnect,
a `response.done` or another command can come in between. The device side is played by the test: the
playback buffer says it has a device to flush (`device_flush`, as the engine sets it) and the test reports
the drop (`device_dropped`, as the engine's worker does) when it wants the flush to land. Everything else
is real: the session, the socket, the emulator, whose received frames are the evidence.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from app.audio import BLOCK_FRAMES
from app.emulator.server import EmulatorServer
from app.voicelive import notices as nt
from tests.helpers import SoftwareSpeaker, wait_for
from tests.session_harness import SessionHarness


async def _playing_reply(h: SessionHarness) -> str:
    h.session.send_text("talk for a while")
    await wait_for(lambda: h.of(nt.AssistantTurnStarted), timeout=15)
    item = h.of(nt.AssistantTurnStarted)[0].item_id
    await wait_for(lambda: h.playback.played_ms(item) > 200, timeout=15)
    return item


async def test_a_reconnect_before_the_device_flush_lands_sends_no_stale_truncate(emulator: EmulatorServer) -> None:
    emulator.options.speed = 1.0  # the reply is still playing and arriving when the user interrupts
    async with SessionHarness(emulator) as h:
        await _playing_reply(h)
        h.playback.device_flush = True  # a device holds queued audio: the cut settles when it has dropped it
        h.session.interrupt()
        h.session.reconnect()  # `r` right after `i`: the old connection goes before the device has dropped
        await wait_for(lambda: len(emulator.sessions) == 2 and h.session.state == "connected", timeout=10)
        h.playback.device_dropped(time.monotonic())  # the device's queue is gone now: the truncate is due
        await wait_for(lambda: h.session.outbox.next_control() is None, timeout=5)
        h.session.send_text("and now?")
        await wait_for(lambda: any("and now?" in n.text for n in h.of(nt.AssistantTurnEnded)), timeout=20)
        new = emulator.sessions[1]
        assert not [e for e in new.received if e["type"] == "conversation.item.truncate"]
        assert not [e for _, e in new.sent if e["type"] == "error"]


class LatentSpeaker(SoftwareSpeaker):
    """A software speaker with a device queue: each block reaches the 'DAC' `latency_s` after it is handed
    over (as PortAudio's `outputBufferDacTime` says), so what was heard lags what was handed."""

    latency_s = 0.1

    async def _run(self) -> None:
        next_at = time.monotonic()
        while True:
            out = np.zeros(BLOCK_FRAMES, dtype=np.int16)
            self.buffer.fill(out, time.monotonic() + self.latency_s)
            self.played.append(out)
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def test_a_reply_that_ends_before_the_device_flush_lands_is_cut_where_the_truncate_says(
        emulator: EmulatorServer) -> None:
    emulator.options.speed = 1.0  # the reply is still arriving: the cancel ends it at once
    async with SessionHarness(emulator) as h:
        await h.speaker.stop()
        h.speaker = speaker = LatentSpeaker(h.playback)
        speaker.start()
        item = await _playing_reply(h)
        h.playback.device_flush = True
        h.session.interrupt()
        await wait_for(lambda: h.emulated.replies[item].status == "cancelled", timeout=5)
        await asyncio.sleep(0.06)  # the device takes a while to drop its queue; meanwhile it plays on
        h.playback.device_dropped(time.monotonic())
        await wait_for(lambda: h.emulated.replies[item].truncated_at_ms is not None, timeout=5)
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=5)
        ended = h.of(nt.AssistantTurnEnded)[-1]
        assert ended.status == "cancelled"
        assert ended.interrupted_at_ms == h.emulated.replies[item].truncated_at_ms  # one cut, said once
        turn = h.session.conversation.get(item)
        assert turn is not None and turn.interrupted_at_ms == ended.interrupted_at_ms
