"""The UI-less baseline: a Voice Live client with no UI, two PortAudio callbacks and one event loop.

    python -m bench.callback_client --endpoint URL --api-key KEY [--jitter-ms 80]

Stdin: `say TEXT` sends a typed turn and asks for a reply. This is about the least a good client can do
on the same devices, so the full app's figures have something to be compared with in the same run:
the microphone callback hands 10 ms blocks to the loop (as the app does), which sends each as
`input_audio_buffer.append`;
reply deltas go into a jitter buffer that starts playing at `--jitter-ms` (or when the reply is done);
`speech_started` clears it and drops the output device's queue (abort and restart the stream from a
thread that is not the callback). No truncation, no meters, no log.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import threading
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt
import websockets

from app.audio import BLOCK_FRAMES, SAMPLE_RATE
from app.config import DEFAULT_API_VERSION
from app.protocol.endpoint import realtime_url


class JitterBuffer:
    """Reply audio between the loop (writer) and the output callback (reader); a lock held for copies only."""

    def __init__(self, jitter_ms: int) -> None:
        self.target = SAMPLE_RATE * jitter_ms // 1000
        self.lock = threading.Lock()
        self.chunks: deque[npt.NDArray[np.int16]] = deque()
        self.buffered = 0
        self.primed = False
        self.complete = False

    def write(self, pcm: npt.NDArray[np.int16]) -> None:
        with self.lock:
            self.chunks.append(pcm)
            self.buffered += len(pcm)
            self.complete = False

    def done(self) -> None:
        with self.lock:
            self.complete = True

    def clear(self) -> None:
        with self.lock:
            self.chunks.clear()
            self.buffered, self.primed, self.complete = 0, False, False

    def fill(self, out: npt.NDArray[np.int16]) -> None:
        out.fill(0)
        with self.lock:
            if not self.primed and (self.buffered >= self.target or (self.complete and self.buffered)):
                self.primed = True
            filled = 0
            while self.primed and filled < len(out) and self.chunks:
                chunk = self.chunks[0]
                take = min(len(chunk), len(out) - filled)
                out[filled : filled + take] = chunk[:take]
                filled += take
                self.buffered -= take
                if take == len(chunk):
                    self.chunks.popleft()
                else:
                    self.chunks[0] = chunk[take:]
            if self.primed and not self.chunks:
                self.primed = False  # ran dry: wait for the target again


async def run(url: str, api_key: str, jitter_ms: int) -> None:
    import sounddevice as sd

    loop = asyncio.get_running_loop()
    mic: asyncio.Queue[bytes] = asyncio.Queue()
    player = JitterBuffer(jitter_ms)

    def on_input(indata: npt.NDArray[np.int16], frames: int, t: Any, status: Any) -> None:
        loop.call_soon_threadsafe(mic.put_nowait, indata[:, 0].tobytes())

    def on_output(outdata: npt.NDArray[np.int16], frames: int, t: Any, status: Any) -> None:
        player.fill(outdata[:, 0])

    output = sd.OutputStream(samplerate=SAMPLE_RATE, blocksize=BLOCK_FRAMES, channels=1, dtype="int16",
                             callback=on_output)
    capture = sd.InputStream(samplerate=SAMPLE_RATE, blocksize=BLOCK_FRAMES // 2, channels=1, dtype="int16",
                             callback=on_input, latency="low")

    def drop_device_queue() -> None:
        output.abort()
        output.start()

    async with websockets.connect(url, additional_headers={"api-key": api_key}, max_size=None) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": {
            "modalities": ["text", "audio"], "input_audio_format": "pcm16", "output_audio_format": "pcm16",
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500}}}))

        async def send_mic() -> None:
            while True:
                block = await mic.get()
                await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                          "audio": base64.b64encode(block).decode()}))

        async def read_commands() -> None:
            while line := await loop.run_in_executor(None, sys.stdin.readline):
                if line.startswith("say "):
                    await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                        "type": "message", "role": "user",
                        "content": [{"type": "input_text", "text": line[4:].strip()}]}}))
                    await ws.send(json.dumps({"type": "response.create"}))
            await ws.close()

        output.start()
        capture.start()
        tasks = [asyncio.create_task(send_mic()), asyncio.create_task(read_commands())]
        try:
            async for frame in ws:
                event = json.loads(frame)
                kind = event.get("type")
                if kind == "response.audio.delta":
                    player.write(np.frombuffer(base64.b64decode(event["delta"]), dtype="<i2"))
                elif kind == "response.audio.done":
                    player.done()
                elif kind == "input_audio_buffer.speech_started":
                    player.clear()
                    threading.Thread(target=drop_device_queue, daemon=True).start()
        except websockets.ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            capture.close()
            output.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.callback_client")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--jitter-ms", type=int, default=80)
    args = parser.parse_args()
    url = realtime_url(args.endpoint, api_version=DEFAULT_API_VERSION, model="gpt-4o")
    asyncio.run(run(url, args.api_key, args.jitter_ms))


if __name__ == "__main__":
    main()
