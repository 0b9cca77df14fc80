"""The emulator in a process of its own, so the benchmarked client's loops never carry it.

    python -m bench.emulator_proc [--speed S] [--chunk-ms MS] [--net-jitter-ms MS] [--vad-delay-ms MS]
                                  [--text-reply noise|markdown] [--reply-s S] [--speech-reply parrot|none]
                                  [--realtime]

It prints `READY <port> <api-key> <priority>`, then answers one JSON command per line on stdin with one JSON line:
`{"set": {...}, "reply": {...}}` changes `EmulatorOptions` and the replies live; `{"stats": true}` says
what the newest session has seen;
`{"dump": PATH}` writes everything every session sent and received, with `time.monotonic()` stamps (one
clock for every process on Linux), to PATH (JSON) and PATH.npz (the audio).

Replies are chosen for measuring: a typed message is answered with never-zero noise (where it starts and
stops in a recording is exact to the sample) or with a Markdown transcript for the log to render; speech
is played back (parrot) or answered with a transcript only, so a benchmark's recording holds nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import zlib
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.emulator import message_output, server
from app.emulator.options import EmulatorOptions
from app.emulator.session import EmulatorSession

MARKDOWN = ("## A reply with *structure*\n\nThree things to check:\n\n1. the **log** renders it,\n2. the "
            "meters keep moving,\n3. the microphone keeps flowing.\n\n```python\nprint('hello')\n```\n\n"
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n> and a quote to finish.")


def noise(seconds: float, seed: int, level: float = 0.1) -> npt.NDArray[np.int16]:
    """White noise that is never exactly zero (silence in a recording is then unambiguous)."""
    rng = np.random.default_rng(seed)
    samples = (rng.standard_normal(int(seconds * SAMPLE_RATE)) * level * 32767).clip(-32000, 32000).astype(np.int16)
    samples[samples == 0] = 1
    return samples


class BenchSession(EmulatorSession):
    """An emulator session that keeps everything it sent and received, unbounded, with times."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent = deque()
        self.input.arrivals = deque()
        self.events_in: list[tuple[float, dict[str, Any]]] = []  # everything but appends

    async def handle(self, frame: str | bytes) -> None:
        at = time.monotonic()
        await super().handle(frame)
        if self.received and self.received[-1].get("type") not in ("input_audio_buffer.append", None):
            self.events_in.append((at, self.received[-1]))
        self.received.clear()


REPLIES: dict[str, Any] = {"text": "noise", "seconds": 1.0, "speech": "none"}  # changed live by `reply`


def install_replies() -> None:
    async def for_text(text: str) -> tuple[str, npt.NDArray[np.int16]]:
        seed, seconds = zlib.crc32(text.encode()), float(REPLIES["seconds"])
        if REPLIES["text"] == "markdown":
            return MARKDOWN, noise(seconds, seed, level=0.05)
        return f"Noise for: {text}", noise(seconds, seed)

    def for_speech(utterance: npt.NDArray[np.int16]) -> tuple[str, npt.NDArray[np.int16]]:
        seconds = len(utterance) / SAMPLE_RATE
        if REPLIES["speech"] == "none":
            return f"I heard {seconds:.1f} s of speech (no audio in this benchmark).", utterance[:0]
        return f"I heard {seconds:.1f} seconds of speech; here it is back.", utterance

    message_output.reply_for_text = for_text  # type: ignore[attr-defined]
    message_output.reply_for_speech = for_speech  # type: ignore[attr-defined]


def _session_record(session: EmulatorSession) -> tuple[dict[str, Any], dict[str, npt.NDArray[np.int16]]]:
    assert isinstance(session, BenchSession)
    sent = [(t, e.get("type"), e.get("item_id")) for t, e in session.sent]
    replies = [{"item_id": r.item_id, "first_audio_at": r.first_audio_at, "sent_samples": r.sent_samples,
                "truncated_at_ms": r.truncated_at_ms, "status": r.status, "finished_at": r.finished_at,
                "audio_dropped": r.audio_dropped} for r in session.replies.values()]
    audio = {f"reply:{r.item_id}": np.frombuffer(bytes(r.audio), dtype="<i2") for r in session.replies.values()}
    audio["input"] = np.frombuffer(bytes(session.input_audio), dtype="<i2")
    record = {"created_at": sent[0][0] if sent else None, "closed": session.closed, "sent": sent,
              "events_in": session.events_in, "arrivals": list(session.input_arrivals),
              "input_offset": session.input_offset, "speech_started_at": session.speech_started_at,
              "replies": replies}
    return record, audio


def dump(emulator: server.EmulatorServer, path: str) -> dict[str, Any]:
    records, audio = [], {}
    for index, session in enumerate(emulator.sessions):
        record, arrays = _session_record(session)
        records.append(record)
        audio.update({f"{index}/{key}": value for key, value in arrays.items()})
    with open(path, "w") as out:
        json.dump({"sessions": records}, out)
    np.savez(path + ".npz", **audio)  # type: ignore[arg-type]
    return {"ok": True, "sessions": len(records)}


def stats(emulator: server.EmulatorServer) -> dict[str, Any]:
    if not emulator.sessions:
        return {"sessions": 0}
    session = emulator.sessions[-1]
    assert isinstance(session, BenchSession)
    replies = list(session.replies.values())
    last = replies[-1] if replies else None
    return {"sessions": len(emulator.sessions), "closed": session.closed, "appends": len(session.input_arrivals),
            "configured": any(e.get("type") == "session.updated" for _, e in session.sent),
            "replies": len(replies), "replies_done": sum(r.finished_at is not None for r in replies),
            "speech_started": len(session.speech_started_at),
            "truncates": sum(e.get("type") == "conversation.item.truncate" for _, e in session.events_in),
            "last_first_audio_at": last.first_audio_at if last else None,
            "last_finished_at": last.finished_at if last else None, "now": time.monotonic()}


def realtime_priority() -> str:
    """Run at real-time priority where allowed (root, or CAP_SYS_NICE): "realtime", else "normal".

    The emulator stamps each microphone frame as it arrives. On a 2-core machine, when the client's UI and
    the terminal busy both cores at the end of a turn, a normal-priority emulator waited up to 60-90 ms to
    be scheduled, and stamped frames the client had sent on time as late. A service is not on the
    client's CPU; at real-time priority the stamps are the client's own timing again. Only the microphone
    benchmark asks for it (`--realtime`): elsewhere the figures come from the speaker's recording, and a
    real-time emulator would take the CPU from the client being measured.
    """
    try:
        # Not inherited by child processes (espeak, for the emulator's spoken tool replies).
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(10))
    except (AttributeError, OSError):
        return "normal"
    return "realtime"


async def serve(options: EmulatorOptions, priority: str) -> None:
    server.EmulatorSession = BenchSession  # type: ignore[attr-defined]
    emulator = server.EmulatorServer(options=options)
    await emulator.start()
    print(f"READY {emulator.port} {emulator.api_key} {priority}", flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        if "set" in command or "reply" in command:
            for key, value in command.get("set", {}).items():
                setattr(options, key, value)
            REPLIES.update(command.get("reply", {}))
            answer: dict[str, Any] = {"ok": True}
        elif "dump" in command:
            answer = dump(emulator, command["dump"])
        elif "stats" in command:
            answer = stats(emulator)
        else:
            break
        print(json.dumps(answer), flush=True)
    await emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_proc")
    parser.add_argument("--speed", type=float, default=4.0)
    parser.add_argument("--chunk-ms", type=int, default=40)
    parser.add_argument("--net-jitter-ms", type=float, default=0.0)
    parser.add_argument("--vad-delay-ms", type=int, default=0)
    parser.add_argument("--text-reply", choices=["noise", "markdown"], default="noise")
    parser.add_argument("--reply-s", type=float, default=1.0)
    parser.add_argument("--speech-reply", choices=["parrot", "none"], default="none")
    parser.add_argument("--realtime", action="store_true", help="stamp arrivals at real-time priority if allowed")
    args = parser.parse_args()
    REPLIES.update(text=args.text_reply, seconds=args.reply_s, speech=args.speech_reply)
    install_replies()
    options = EmulatorOptions(speed=args.speed, chunk_ms=args.chunk_ms, net_jitter_ms=args.net_jitter_ms,
                              vad_delay_ms=args.vad_delay_ms, keep_closed_sessions=1000)
    asyncio.run(serve(options, realtime_priority() if args.realtime else "normal"))


if __name__ == "__main__":
    main()
