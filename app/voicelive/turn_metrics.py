"""What each turn took and what it cost: the session's turn timeline and token usage, kept up to date.

The session passes every conversation notice through `observe` on its way out, plus the talk key, local
speech and the microphone blocks. Whenever a turn's timeline moves, a `TimelineChanged` notice carries the
last turns and the medians per turn-detection setting; every `response.done` with usage adds to the total
(`UsageChanged`). Runs on the session's loop; no Textual.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.protocol.session import TurnDetection
from app.voicelive import notices as nt
from app.voicelive.conversation_tracker import AudioOutput
from app.voicelive.local_speech import BlockSpeechDetector, LocalSpeechEvent
from app.voicelive.timeline import Timeline
from app.voicelive.usage import Usage

HEARD_WATCH_S = 5.0  # how long to look for a reply's first frame at the speaker
HEARD_POLL_S = 0.02


class TurnMetrics:
    def __init__(self, emit: Callable[[nt.Notice], None], settings: Callable[[], TurnDetection | None], *,
                 audio: Callable[[], AudioOutput | None]) -> None:
        self.emit = emit
        self.timeline = Timeline(settings)
        self.usage = Usage()
        self.responses = 0
        self._audio = audio
        self._derived: BlockSpeechDetector | None = BlockSpeechDetector()  # until the engine reports speech

    # ------------------------------------------------------------------ inputs
    def observe(self, notice: nt.Notice) -> None:
        now = time.monotonic()
        timeline = self.timeline
        match notice:
            case nt.SpeechStarted(audio_start_ms=start_ms):
                self._changed(timeline.speech_started(now, start_ms))
            case nt.SpeechStopped(audio_end_ms=end_ms):
                self._changed(timeline.speech_stopped(now, end_ms))
            case nt.InputCommitted(item_id=item_id):
                self._changed(timeline.committed(item_id, now))
            case nt.ReplyAudioStarted(item_id=item_id):
                self._changed(timeline.reply_started(item_id, now))
                self._watch_heard(item_id, now)
            case nt.AssistantTurnEnded(item_id=item_id, interrupted_at_ms=cut):
                self._changed(timeline.reply_ended(item_id, interrupted=cut is not None))
            case nt.ResponseUsage(usage=usage):
                self.usage += usage
                self.responses += 1
                self.emit(nt.UsageChanged(self.usage, self.responses))
            case _:
                pass

    def talk_started(self) -> None:
        self._changed(self.timeline.talk_started(time.monotonic()))

    def talk_ended(self) -> None:
        self._changed(self.timeline.talk_ended(time.monotonic()))

    def local_speech(self, event: LocalSpeechEvent, *, from_engine: bool) -> None:
        """Local speech from the engine; from the first one on, the blocks are no longer analysed here."""
        if from_engine:
            self._derived = None
        self._changed(self.timeline.local_speech(event.kind, event.at))

    def microphone_block(self, block: bytes) -> None:
        """A captured block, just handed over: derive local speech from it while no engine reports any."""
        if self._derived is not None and (event := self._derived.feed(block, time.monotonic())) is not None:
            self.local_speech(event, from_engine=False)

    # ------------------------------------------------------------------ internals
    def _changed(self, changed: bool) -> None:
        if changed:
            timeline = self.timeline
            self.emit(nt.TimelineChanged(timeline.timings(), timeline.summaries(), timeline.current_settings))

    def _watch_heard(self, item_id: str, since: float) -> None:
        """Look every 20 ms, for a while, for when the reply's first frame reached the speaker."""
        audio = self._audio()
        if audio is None:
            return
        heard = first_heard(audio, item_id)
        if heard is not None:
            self._changed(self.timeline.reply_heard(item_id, heard))
        elif time.monotonic() - since < HEARD_WATCH_S:
            asyncio.get_running_loop().call_later(HEARD_POLL_S, self._watch_heard, item_id, since)


def first_heard(audio: AudioOutput, item_id: str) -> float | None:
    """When the item's first frame reached the speaker (`time.monotonic()`), or None if it has not yet.

    An output that knows it (an optional `first_played_at(item_id)`) says so; otherwise it is estimated
    from how much of the item has been handed to the device by now (exact while playback ran without a
    gap, to within one 20 ms block), plus the device's output delay where the output reports one.
    """
    probe = getattr(audio, "first_played_at", None)
    if callable(probe):
        value = probe(item_id)
        return float(value) if isinstance(value, (int, float)) else None
    played = audio.played_ms(item_id)
    if played <= 0:
        return None
    delay = getattr(audio, "output_delay_s", 0.0)
    return time.monotonic() - played / 1000 + (delay if isinstance(delay, float) else 0.0)
