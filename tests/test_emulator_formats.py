"""The emulator accepts what the service accepts: audio formats converted for real, forced tool choice,
visemes alongside the audio, and filler words that start no turn.
"""

from __future__ import annotations

import base64
import importlib
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from app.audio import SAMPLE_RATE
from app.audio.wav import resample
from app.emulator.audio_formats import (
    OUTPUT_RATES,
    StreamResampler,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)
from app.emulator.server import EmulatorServer
from tests.helpers import correlation, silence, speechlike
from tests.raw_client import RawClient


def _audioop() -> Any:
    """CPython's own G.711 coder (removed in 3.13): an independent reference where it exists."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return importlib.import_module("audioop")
        except ImportError:
            return None


def hum(seconds: float = 0.4, f0: float = 120.0, level: float = 0.3) -> npt.NDArray[np.int16]:
    """An "um"-like filler: a held, steady-pitched hum with a soft onset and fade."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * f0 * t
    voiced = sum(np.sin(k * phase) / k**1.5 for k in range(1, 8))
    envelope = np.minimum(1.0, np.minimum(t / 0.05, (seconds - t) / 0.08))
    signal = voiced * envelope + 0.01 * np.random.default_rng(0).standard_normal(len(t))
    scaled: npt.NDArray[np.float64] = signal / np.max(np.abs(signal)) * level * 32767
    return scaled.astype(np.int16)


# ------------------------------------------------------------------ the codecs
def test_g711_codecs_match_the_reference_tables() -> None:
    known = np.array([0, -1, 1000, -1000, 32767, -32768], dtype=np.int16)
    assert ulaw_encode(known).hex() == "ff7ece4e8000"  # ITU-T G.711 / Sun reference values
    assert alaw_encode(known).hex() == "d555fa7aaa2a"
    every = np.arange(-32768, 32768, dtype=np.int16)
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        back = decode(encode(every)).astype(np.int32)
        error = np.abs(back - every)
        assert np.all(error <= np.maximum(16, np.abs(every.astype(np.int32)) // 16))  # companding: ≤ ~6 %
    reference = _audioop()
    if reference is not None:
        codes = bytes(range(256))
        assert ulaw_encode(every) == reference.lin2ulaw(every.tobytes(), 2)
        assert alaw_encode(every) == reference.lin2alaw(every.tobytes(), 2)
        assert ulaw_decode(codes).tobytes() == reference.ulaw2lin(codes, 2)
        assert alaw_decode(codes).tobytes() == reference.alaw2lin(codes, 2)


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_streamed_resampling_is_continuous_and_keeps_the_timeline(rate: int) -> None:
    tone = (np.sin(2 * np.pi * 220 * np.arange(rate * 2) / rate) * 12000).astype(np.int16)
    stream = StreamResampler(rate)
    sizes = [37, 441, 160, 1000, 3]
    pieces, start, n = [], 0, 0
    while start < len(tone):
        size = sizes[n % len(sizes)]
        pieces.append(stream.feed(tone[start : start + size]))
        start, n = start + size, n + 1
    out = np.concatenate(pieces)
    assert 0 <= 2 * SAMPLE_RATE - len(out) <= max(1, SAMPLE_RATE // rate)  # only the last input sample's tail waits
    whole = resample(tone, rate)
    assert np.max(np.abs(out[: len(whole) - 2].astype(np.int32) - whole[: len(out)][: len(whole) - 2])) <= 1


# ------------------------------------------------------------------ formats over the wire
def _encode_input(pcm24: npt.NDArray[np.int16], fmt: str, rate: int) -> bytes:
    if fmt == "g711_ulaw":
        return ulaw_encode(resample(pcm24, SAMPLE_RATE, 8000))
    if fmt == "g711_alaw":
        return alaw_encode(resample(pcm24, SAMPLE_RATE, 8000))
    return resample(pcm24, SAMPLE_RATE, rate).tobytes()


@pytest.mark.parametrize(("fmt", "rate"), [("pcm16", 8000), ("pcm16", 16000), ("pcm16", 24000), ("pcm16", 44100),
                                           ("pcm16", 48000), ("g711_ulaw", None), ("g711_alaw", None)])
async def test_every_input_format_drives_the_vad_and_the_reply(emulator: EmulatorServer, fmt: str,
                                                              rate: int | None) -> None:
    speech = speechlike(0.8)
    turn = np.concatenate([silence(0.4), speech, silence(0.8)])
    async with RawClient(emulator) as c:
        update: dict[str, Any] = {"input_audio_format": fmt, "turn_detection": {
            "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 100, "silence_duration_ms": 300}}
        if rate is not None:
            update["input_audio_sampling_rate"] = rate
        updated = await c.update(**update)
        assert updated["type"] == "session.updated", updated
        assert updated["session"]["input_audio_format"] == fmt
        assert updated["session"]["input_audio_sampling_rate"] == (rate or 8000)
        wire = _encode_input(turn, fmt, rate or 8000)
        step = len(wire) // 100  # a hundred appends of odd sizes
        for start in range(0, len(wire), step):
            await c.send({"type": "input_audio_buffer.append",
                          "audio": base64.b64encode(wire[start : start + step]).decode()})
        started = await c.until("input_audio_buffer.speech_started")
        stopped = await c.until("input_audio_buffer.speech_stopped")
        assert abs(started["audio_start_ms"] - 300) <= 10  # 400 ms of silence less 100 ms of padding
        assert abs(stopped["audio_end_ms"] - 1200) <= 40
        done = await c.until("response.done")
    reply = emulator.sessions[-1].replies[done["response"]["output"][0]["id"]]
    heard = np.frombuffer(bytes(reply.audio), dtype="<i2")
    _, score = correlation(speech, heard)
    assert score > 0.9, score  # the parrot played back what was sent, through the format


def _decode_output(data: bytes, fmt: str) -> npt.NDArray[np.int16]:
    reference = _audioop()
    if fmt.startswith("g711"):
        if reference is not None:
            lin = reference.ulaw2lin(data, 2) if fmt == "g711_ulaw" else reference.alaw2lin(data, 2)
            return np.frombuffer(lin, dtype="<i2")
        return ulaw_decode(data) if fmt == "g711_ulaw" else alaw_decode(data)
    return np.frombuffer(data, dtype="<i2")


@pytest.mark.parametrize("fmt", sorted(OUTPUT_RATES))
async def test_every_output_format_is_sent_converted(emulator: EmulatorServer, fmt: str) -> None:
    async with RawClient(emulator) as c:
        updated = await c.update(output_audio_format=fmt)
        assert updated["session"]["output_audio_format"] == fmt
        await c.send({"type": "response.create"})  # nothing to answer: a 0.8 s tone
        done = await c.until("response.done")
    wire = b"".join(base64.b64decode(e["delta"]) for e in c.events if e["type"] == "response.audio.delta")
    rate = OUTPUT_RATES[fmt]
    received = _decode_output(wire, fmt)
    reply = emulator.sessions[-1].replies[done["response"]["output"][0]["id"]]
    sent = np.frombuffer(bytes(reply.audio), dtype="<i2")
    assert abs(len(received) - len(sent) * rate / SAMPLE_RATE) <= 2
    _, score = correlation(resample(sent, SAMPLE_RATE, rate), received)
    assert score > 0.98, score


async def test_g711_needs_8_khz_and_pcm16_returns_to_its_default(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        error = await c.update(input_audio_format="g711_ulaw", input_audio_sampling_rate=16000)
        assert error["type"] == "error" and error["error"]["param"] == "session.input_audio_sampling_rate"
        assert (await c.update(input_audio_format="g711_alaw"))["session"]["input_audio_sampling_rate"] == 8000
        assert (await c.update(input_audio_format="pcm16"))["session"]["input_audio_sampling_rate"] == 24000
        error = await c.update(input_audio_sampling_rate=11025)
        assert error["error"]["param"] == "session.input_audio_sampling_rate"
        error = await c.update(output_audio_format="mp3")
        assert error["error"]["param"] == "session.output_audio_format"


# ------------------------------------------------------------------ tool choice, visemes, fillers
async def test_a_forced_tool_choice_is_accepted_and_kept(emulator: EmulatorServer) -> None:
    tool = {"type": "function", "name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    async with RawClient(emulator) as c:
        updated = await c.update(tools=[tool], tool_choice={"type": "function", "name": "get_weather"})
        assert updated["session"]["tool_choice"] == {"type": "function", "name": "get_weather"}
        for bad in ({"type": "function"}, "sometimes", {"type": "mcp", "name": 3}):
            error = await c.update(tool_choice=bad)
            assert error["type"] == "error" and error["error"]["param"] == "session.tool_choice", bad
        assert (await c.update(tool_choice="required"))["session"]["tool_choice"] == "required"


async def test_visemes_come_with_the_audio_when_asked(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.send({"type": "response.create"})
        await c.until("response.done")
        assert not [k for k in c.kinds() if "viseme" in k]
        c.events.clear()
        updated = await c.update(animation={"outputs": ["viseme_id"]})
        assert updated["session"]["animation"] == {"outputs": ["viseme_id"]}
        await c.send({"type": "response.create"})
        await c.until("response.done")
    kinds = c.kinds()
    visemes = [e for e in c.events if e["type"] == "response.animation_viseme.delta"]
    audio = [e for e in c.events if e["type"] == "response.audio.delta"]
    assert len(visemes) == len(audio) > 1
    offsets = [v["audio_offset_ms"] for v in visemes]
    assert offsets[0] == 0 and offsets == sorted(offsets)
    assert all(0 <= v["viseme_id"] <= 21 and v["item_id"] == audio[0]["item_id"] for v in visemes)
    assert any(v["viseme_id"] > 0 for v in visemes)  # the tone is not silence
    assert kinds.index("response.animation_viseme.done") < kinds.index("response.audio.done")


async def test_an_unknown_animation_output_is_refused(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        error = await c.update(animation={"outputs": ["smile"]})
        assert error["type"] == "error" and error["error"]["param"] == "session.animation"


@pytest.mark.parametrize(("sound", "remove", "turns"), [
    ("hum", True, 0), ("hum", False, 1), ("speech", True, 1), ("long hum", True, 1),
])
async def test_filler_words_start_no_turn_when_removed(emulator: EmulatorServer, sound: str, remove: bool,
                                                       turns: int) -> None:
    vocal = {"hum": hum(0.4), "long hum": hum(1.2), "speech": speechlike(0.5)}[sound]
    async with RawClient(emulator) as c:
        await c.update(turn_detection={"type": "azure_semantic_vad", "threshold": 0.5, "silence_duration_ms": 300,
                                       "remove_filler_words": remove, "create_response": False})
        await c.audio(np.concatenate([silence(0.3), vocal, silence(0.8)]))
        await c.update(instructions="sync")  # every append before it was handled
    starts = [e for e in c.events if e["type"] == "input_audio_buffer.speech_started"]
    stops = [e for e in c.events if e["type"] == "input_audio_buffer.speech_stopped"]
    assert len(starts) == len(stops) == turns, c.kinds()
    if turns:
        assert abs(starts[0]["audio_start_ms"] - 0) <= 10  # 300 ms of silence less 300 ms of default padding
