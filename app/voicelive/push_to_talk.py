"""Manual turns: with turn detection off, the user's talk key decides where a turn begins and ends.

At the start the service's input buffer is cleared (whatever it held is not this turn); while talking the
microphone is sent; at the end the buffer is committed and, once the service confirms the commit, a
response is requested. Waiting for `input_audio_buffer.committed` costs one round trip, but a commit the
service refuses (an empty buffer: nothing was recorded) then gets its error and no reply to old context.
"""

from __future__ import annotations

from app.protocol import client_events as ce
from app.protocol.events import ErrorDetail
from app.voicelive.outbox import Outbox

EMPTY_COMMIT_CODE = "input_audio_buffer_commit_empty"


class PushToTalk:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.enabled = False  # turn detection is off: turns are made with the talk key
        self.talking = False
        self._commit_id: str | None = None  # our commit, until the service confirms or refuses it
        self._seq = 0

    def start(self) -> bool:
        """Begin a turn: drop what the buffer holds. False if push-to-talk is off or a turn is already open."""
        if not self.enabled or self.talking:
            return False
        self.talking = True
        self._commit_id = None
        self.outbox.clear_audio()  # blocks captured before the key are not part of the turn
        self.outbox.put(ce.InputAudioClear().to_json())
        return True

    def end(self) -> bool:
        """End the turn: commit what was sent (after the audio still queued). False if no turn was open."""
        if not self.talking:
            return False
        self.talking = False
        self._seq += 1
        self._commit_id = f"ptt_commit_{self._seq}"
        self.outbox.put_after_audio(ce.InputAudioCommit(event_id=self._commit_id).to_json())
        return True

    def stop(self) -> None:
        """Turn detection came back on, or the connection was lost: drop the open turn without a commit."""
        self.talking = False
        self._commit_id = None

    def committed(self) -> bool:
        """`input_audio_buffer.committed`: if it is ours, ask for the reply. True if a response was requested."""
        if self._commit_id is None:
            return False
        self._commit_id = None
        self.outbox.put(ce.ResponseCreate().to_json())
        return True

    def refused(self, error: ErrorDetail) -> bool:
        """An `error` for our commit (the service does not always echo our event id: the code tells too)."""
        if self._commit_id is None or (error.event_id != self._commit_id and error.code != EMPTY_COMMIT_CODE):
            return False
        self._commit_id = None
        return True


def refusal_sentence(error: ErrorDetail) -> str:
    """The service's reason, in one sentence that says what it means for the user."""
    reason = (error.message or "no reason given").strip().rstrip(".")
    if error.code == EMPTY_COMMIT_CODE or "empty" in reason.lower():
        return f"Nothing was sent to answer: the service found no audio in your turn ({reason})."
    return f"Your turn was not sent: the service refused it ({reason})."
