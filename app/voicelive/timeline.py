"""A timeline of every spoken turn: what the microphone heard, what the service decided, when the reply
was audible — so a change to the threshold or the silence window shows up as numbers, not as a feeling.

Fed on the session's loop, in the order things happen: local speech (from the audio engine), the service's
`speech_started` / `speech_stopped` / `committed`, push-to-talk presses, and the reply's first audio
(received, then heard at the speaker). Every time is `time.monotonic()` when the event reached us, except
local speech, which carries when the microphone captured it. From them, per turn:

* detection — local onset → the service's `speech_started` (how long it took to notice the user);
* stop — end of the user's speech → `speech_stopped` (mostly the silence window);
* end of turn — end of the user's speech → the first reply audio audible at the speaker;
* interrupted — the reply was cut by the user (barge-in or a key);
* cut off — the user went on speaking within 1 s of a `speech_stopped` (the service ended the turn early).

Turns are grouped by the turn-detection settings live when the service detected them, so presets can be
compared side by side (`summaries`). No Textual, no I/O.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from app.protocol.session import TurnDetection
from app.protocol.turn_labels import turn_key, turn_label

CUT_OFF_WINDOW_S = 1.0  # more speech this soon after a speech_stopped: the user was cut off
ONSET_WINDOW_S = 3.0  # a local onset older than this is not the utterance the service just detected


@dataclass
class _Turn:
    settings: str
    label: str
    push_to_talk: bool = False
    local_onset: float | None = None
    local_end: float | None = None
    talk_start: float | None = None
    talk_end: float | None = None
    speech_started: float | None = None
    speech_stopped: float | None = None
    stopped_ms: int | None = None  # the service's audio_end_ms of the stop
    committed: float | None = None
    user_item: str | None = None
    reply_item: str | None = None
    reply_received: float | None = None
    reply_heard: float | None = None
    interrupted: bool = False
    cut_off: bool = False

    @property
    def user_done(self) -> bool:
        """The service (or the talk key) has ended the user's side of this turn."""
        return self.speech_stopped is not None or self.committed is not None or self.talk_end is not None

    @property
    def detected(self) -> bool:
        """Worth showing: the service (or the talk key) took part, not just a noise in our microphone."""
        return self.speech_started is not None or self.talk_start is not None


@dataclass(frozen=True)
class TurnTiming:
    """One turn's timeline, as milliseconds between its events (None where an event is missing)."""

    settings: str  # the turn-detection key (`turn_key`)
    label: str  # the same, for people (`turn_label`)
    user_item: str | None
    reply_item: str | None
    detection_ms: int | None  # local onset → speech_started
    stop_ms: int | None  # end of speech → speech_stopped
    commit_ms: int | None  # end of speech (or of the talk key) → committed
    end_of_turn_ms: int | None  # end of speech → reply audible
    arrival_ms: int | None  # end of speech → reply audio received (audible comes later, by the jitter buffer)
    speech_ms: int | None  # how long the user spoke (local onset → end)
    interrupted: bool
    cut_off: bool

    def describe(self) -> str:
        """The turn in one line, for the details under a reply."""
        parts = [self.label]
        if self.speech_ms is not None:
            parts.append(f"spoke {self.speech_ms / 1000:.1f} s")
        if self.detection_ms is not None:
            parts.append(f"detected +{self.detection_ms} ms")
        if self.stop_ms is not None:
            parts.append(f"stop +{self.stop_ms} ms")
        if self.commit_ms is not None:
            parts.append(f"commit +{self.commit_ms} ms")
        if self.end_of_turn_ms is not None:
            parts.append(f"reply audible {self.end_of_turn_ms} ms after you stopped")
        elif self.arrival_ms is not None:
            parts.append(f"reply arrived {self.arrival_ms} ms after you stopped")
        if self.interrupted:
            parts.append("interrupted")
        if self.cut_off:
            parts.append("you were cut off")
        return " · ".join(parts)


@dataclass(frozen=True)
class Summary:
    """The turns taken with one turn-detection setting: medians and counts."""

    settings: str
    label: str
    turns: int
    end_of_turn_ms: int | None
    detection_ms: int | None
    stop_ms: int | None
    interrupted: int
    cut_off: int


class Timeline:
    """Builds `TurnTiming`s from events; `settings()` gives the turn detection live at the service."""

    def __init__(self, settings: Callable[[], TurnDetection | None], *, keep: int = 200) -> None:
        self._settings = settings
        self._turns: deque[_Turn] = deque(maxlen=keep)
        self._by_reply: dict[str, _Turn] = {}

    # ------------------------------------------------------------------ the user's side
    def local_speech(self, kind: str, at: float) -> bool:
        """Our microphone heard speech begin (`start`) or end (`stop`) at `at`. True if a shown turn changed."""
        turn = self._current
        if kind == "start":
            changed = self._cut_off_by(turn, at)
            if turn is not None and not turn.user_done and self._recent(turn.local_onset, at):
                if turn.local_onset is None or (turn.local_end is not None and turn.speech_started is None):
                    turn.local_onset, turn.local_end = at, None  # the utterance (re)starts here
                else:
                    turn.local_end = None  # a pause, then more of the same utterance
                return changed or turn.detected
            self._new().local_onset = at
            return changed
        if turn is None:
            return False
        if turn.speech_stopped is not None and at > turn.speech_stopped + 0.1:
            turn.cut_off = True  # still talking well after the service said the turn was over
        elif turn.local_onset is not None or turn.talk_start is not None:
            turn.local_end = at
        return turn.detected

    def speech_started(self, at: float, audio_start_ms: int) -> bool:
        turn = self._current
        if turn is None or turn.user_done or turn.speech_started is not None or not self._recent(turn.local_onset, at):
            if turn is not None and turn.stopped_ms is not None:  # on the service's own input timeline
                td = self._settings()
                gap = audio_start_ms + (td.prefix_padding_ms if td else 0) - turn.stopped_ms
                turn.cut_off = turn.cut_off or 0 <= gap <= CUT_OFF_WINDOW_S * 1000
            turn = self._new()
        self._stamp_settings(turn)
        turn.speech_started = at
        return True

    def speech_stopped(self, at: float, audio_end_ms: int) -> bool:
        turn = self._current
        if turn is None or turn.speech_started is None or turn.speech_stopped is not None:
            return False
        turn.speech_stopped, turn.stopped_ms = at, audio_end_ms
        return True

    def committed(self, item_id: str, at: float) -> bool:
        turn = self._current
        if turn is None or not turn.detected or turn.committed is not None:
            return False
        turn.committed, turn.user_item = at, item_id
        return True

    def talk_started(self, at: float) -> bool:
        turn = self._current
        if turn is None or turn.user_done or turn.talk_start is not None or not self._recent(turn.local_onset, at):
            turn = self._new()
        self._stamp_settings(turn)
        turn.talk_start, turn.push_to_talk = at, True
        return True

    def talk_ended(self, at: float) -> bool:
        turn = self._current
        if turn is None or turn.talk_start is None or turn.talk_end is not None:
            return False
        turn.talk_end = at
        return True

    # ------------------------------------------------------------------ the reply
    def reply_started(self, item_id: str, at: float) -> bool:
        """The reply's first audio arrived: it answers the latest finished user turn that has no reply yet."""
        for turn in reversed(self._turns):
            if turn.reply_item is not None:
                return False
            if turn.user_done and turn.detected:
                turn.reply_item, turn.reply_received = item_id, at
                self._by_reply[item_id] = turn
                return True
        return False

    def reply_heard(self, item_id: str, at: float) -> bool:
        turn = self._by_reply.get(item_id)
        if turn is None or turn.reply_heard is not None:
            return False
        turn.reply_heard = at
        return True

    def reply_ended(self, item_id: str, *, interrupted: bool) -> bool:
        turn = self._by_reply.get(item_id)
        if turn is None or not interrupted or turn.interrupted:
            return False
        turn.interrupted = True
        return True

    # ------------------------------------------------------------------ reading it
    def timings(self, last: int = 12) -> tuple[TurnTiming, ...]:
        shown = [turn for turn in self._turns if turn.detected]
        return tuple(_timing(turn) for turn in shown[-last:])

    def summaries(self) -> tuple[Summary, ...]:
        """Per turn-detection setting, in the order each was first used."""
        groups: dict[str, list[TurnTiming]] = {}
        for turn in self._turns:
            if turn.detected:
                groups.setdefault(turn.settings, []).append(_timing(turn))
        return tuple(summarize(timings) for timings in groups.values())

    @property
    def current_settings(self) -> str:
        return turn_key(self._settings())

    # ------------------------------------------------------------------ internals
    @property
    def _current(self) -> _Turn | None:
        return self._turns[-1] if self._turns else None

    def _new(self) -> _Turn:
        td = self._settings()
        turn = _Turn(turn_key(td), turn_label(td), push_to_talk=td is None)
        if len(self._turns) == self._turns.maxlen:
            old = self._turns[0]
            if old.reply_item is not None:
                self._by_reply.pop(old.reply_item, None)
        self._turns.append(turn)
        return turn

    def _stamp_settings(self, turn: _Turn) -> None:
        """The settings that count are those live when the service (or the key) began the turn."""
        td = self._settings()
        turn.settings, turn.label, turn.push_to_talk = turn_key(td), turn_label(td), td is None

    @staticmethod
    def _recent(onset: float | None, at: float) -> bool:
        return onset is None or at - onset <= ONSET_WINDOW_S

    @staticmethod
    def _cut_off_by(turn: _Turn | None, onset: float) -> bool:
        """Speech starting within the window after the service stopped the turn cuts that turn off."""
        if turn is None or turn.speech_stopped is None or turn.cut_off:
            return False
        if 0.0 <= onset - turn.speech_stopped <= CUT_OFF_WINDOW_S:
            turn.cut_off = True
            return True
        return False


def _ms(start: float | None, end: float | None) -> int | None:
    return None if start is None or end is None else round((end - start) * 1000)


def _timing(turn: _Turn) -> TurnTiming:
    speech_end = turn.local_end if turn.local_end is not None else turn.talk_end
    detection = _ms(turn.local_onset, turn.speech_started)
    return TurnTiming(
        settings=turn.settings, label=turn.label, user_item=turn.user_item, reply_item=turn.reply_item,
        detection_ms=detection if detection is not None and 0 <= detection <= ONSET_WINDOW_S * 1000 else None,
        stop_ms=_ms(turn.local_end, turn.speech_stopped),
        commit_ms=_ms(speech_end, turn.committed),
        end_of_turn_ms=_ms(speech_end, turn.reply_heard),
        arrival_ms=_ms(speech_end, turn.reply_received),
        speech_ms=_ms(turn.local_onset, turn.local_end),
        interrupted=turn.interrupted, cut_off=turn.cut_off,
    )


def _median(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present)) if present else None


def summarize(timings: list[TurnTiming]) -> Summary:
    first = timings[0]
    return Summary(settings=first.settings, label=first.label, turns=len(timings),
                   end_of_turn_ms=_median([t.end_of_turn_ms for t in timings]),
                   detection_ms=_median([t.detection_ms for t in timings]),
                   stop_ms=_median([t.stop_ms for t in timings]),
                   interrupted=sum(t.interrupted for t in timings), cut_off=sum(t.cut_off for t in timings))
