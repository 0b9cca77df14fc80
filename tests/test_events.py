"""Every server event in PROTOCOL.md parses; mangled frames never raise anything but ProtocolError."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from app.protocol import client_events as ce
from app.protocol import events as ev

C = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
SAMPLES: dict[str, dict[str, Any]] = {
    "session.created": {"session": {"id": "s", "model": "gpt-4o"}},
    "session.updated": {"session": {"id": "s"}},
    "error": {"error": {"type": "invalid_request_error", "code": "x", "message": "m", "param": "p",
                        "event_id": "e"}},
    "warning": {"warning": {"message": "w"}},
    "rate_limits.updated": {"rate_limits": [{"name": "requests", "limit": 1, "remaining": 1, "reset_seconds": 1}]},
    "input_audio_buffer.speech_started": {"audio_start_ms": 10, "item_id": "i"},
    "input_audio_buffer.speech_stopped": {"audio_end_ms": 900, "item_id": "i"},
    "input_audio_buffer.committed": {"item_id": "i", "previous_item_id": None},
    "input_audio_buffer.cleared": {},
    "output_audio_buffer.cleared": {},
    "conversation.item.created": {"item": {"id": "i", "type": "message"}, "previous_item_id": "p"},
    "conversation.item.retrieved": {"item": {"id": "i"}},
    "conversation.item.truncated": {"item_id": "i", "content_index": 0, "audio_end_ms": 5},
    "conversation.item.deleted": {"item_id": "i"},
    "conversation.item.input_audio_transcription.delta": {"item_id": "i", "delta": "he"},
    "conversation.item.input_audio_transcription.completed": {"item_id": "i", "content_index": 0,
                                                              "transcript": "hello"},
    "conversation.item.input_audio_transcription.failed": {"item_id": "i", "content_index": 0,
                                                           "error": {"message": "bad"}},
    "response.created": {"response": {"id": "r", "status": "in_progress"}},
    "response.output_item.added": {"response_id": "r", "output_index": 0, "item": {"id": "i"}},
    "response.content_part.added": {**C, "part": {"type": "audio"}},
    "response.text.delta": {**C, "delta": "x"},
    "response.text.done": {**C, "text": "x"},
    "response.audio_transcript.delta": {**C, "delta": "x"},
    "response.audio_transcript.done": {**C, "transcript": "x"},
    "response.audio.delta": {**C, "delta": "AAAA"},
    "response.audio.done": C,
    "response.audio_timestamp.delta": {**C, "audio_offset_ms": 0, "audio_duration_ms": 100, "text": "hi",
                                       "timestamp_type": "word"},
    "response.audio_timestamp.done": C,
    "response.animation_viseme.delta": {**C, "audio_offset_ms": 0, "viseme_id": 3},
    "response.animation_viseme.done": C,
    "response.animation_blendshapes.delta": {**C, "frames": [[0.1]], "frame_index": 0},
    "response.animation_blendshapes.done": C,
    "response.audio_transcript.annotation.added": {**C, "annotation_index": 0, "annotation": {}},
    "response.function_call_arguments.delta": {"response_id": "r", "item_id": "i", "output_index": 0,
                                               "call_id": "c", "delta": "{"},
    "response.function_call_arguments.done": {"response_id": "r", "item_id": "i", "output_index": 0,
                                              "call_id": "c", "name": "f", "arguments": "{}"},
    "response.content_part.done": {**C, "part": {"type": "audio"}},
    "response.output_item.done": {"response_id": "r", "output_index": 0, "item": {"id": "i"}},
    "response.done": {"response": {"id": "r", "status": "cancelled",
                                   "status_details": {"type": "cancelled", "reason": "turn_detected"}}},
    "response.video.delta": {"output_index": 0, "codec": "h264", "delta": "AAAA"},
    "response.invocation.delta": {"delta": {"a": 1}},
    "response.mcp_call_arguments.delta": {"response_id": "r", "item_id": "i", "output_index": 0, "delta": "{"},
    "response.mcp_call_arguments.done": {"response_id": "r", "item_id": "i", "output_index": 0, "arguments": "{}"},
    "response.mcp_call.in_progress": {"item_id": "i", "output_index": 0},
    "response.mcp_call.completed": {"item_id": "i", "output_index": 0},
    "response.mcp_call.failed": {"item_id": "i", "output_index": 0},
    "mcp_list_tools.in_progress": {"item_id": "i"},
    "mcp_list_tools.completed": {"item_id": "i"},
    "mcp_list_tools.failed": {"item_id": "i"},
    "response.web_search_call.searching": {"response_id": "r", "item_id": "i", "output_index": 0},
    "response.file_search_call.completed": {"response_id": "r", "item_id": "i", "output_index": 0},
    "session.avatar.connecting": {"server_sdp": "sdp"},
    "session.avatar.switch_to_speaking": {"turn_id": "t"},
    "session.avatar.switch_to_idle": {},
}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_documented_server_event_parses_to_its_type(kind: str) -> None:
    frame = json.dumps({"type": kind, "event_id": "evt_1", "unexpected_new_field": [1, 2], **SAMPLES[kind]})
    event = ev.parse_server_event(frame)
    assert event.type == kind and event.event_id == "evt_1"
    assert not isinstance(event, ev.UnknownEvent)


def test_the_samples_cover_every_registered_type() -> None:
    tool_progress = {k for k, cls in ev.SERVER_EVENTS.items() if cls is ev.ToolProgress}
    assert set(ev.SERVER_EVENTS) - tool_progress == set(SAMPLES) - tool_progress
    assert len(tool_progress) == 6


def test_unknown_types_become_unknown_events() -> None:
    event = ev.parse_server_event('{"type": "response.hologram.delta", "x": 1}')
    assert isinstance(event, ev.UnknownEvent) and event.raw["x"] == 1


def test_typed_accessors() -> None:
    done = ev.parse_server_event(json.dumps({"type": "response.done", **SAMPLES["response.done"]}))
    assert isinstance(done, ev.ResponseDone) and done.status == "cancelled" and done.response_id == "r"


@pytest.mark.parametrize(
    "frame", ["", "{", "null", "[1]", '"str"', '{"no": "type"}', '{"type": 5}',
              '{"type": "response.audio.delta", "item_id": "i"}',
              '{"type": "error", "error": "not an object"}', b"\xff\xfe"],
)
def test_malformed_frames_raise_protocol_error_only(frame: str | bytes) -> None:
    with pytest.raises(ev.ProtocolError):
        ev.parse_server_event(frame)


def _mangle(rng: random.Random, kind: str, body: dict[str, Any]) -> str:
    data: dict[str, Any] = {"type": kind, **body}
    choice = rng.randrange(7)
    if choice == 0:  # truncated JSON
        text = json.dumps(data)
        return text[: rng.randrange(len(text))]
    if choice == 1 and data:  # drop a field
        data.pop(rng.choice(list(data)))
    elif choice == 2:  # wrong type for a field
        key = rng.choice(list(data))
        data[key] = rng.choice([None, 5, 1.5, [], {}, "x", True])
    elif choice == 3:  # unknown type
        data["type"] = kind + ".v" + str(rng.randrange(9))
    elif choice == 4:  # random bytes
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(1, 40)))
    elif choice == 5:  # nested garbage
        data[rng.choice(list(data))] = {"deep": [{"x": None}] * rng.randrange(3)}
    return json.dumps(data)


def test_a_thousand_mangled_frames_never_escape_as_anything_else() -> None:
    rng = random.Random(1234)
    kinds = sorted(SAMPLES)
    outcomes = {"parsed": 0, "unknown": 0, "rejected": 0}
    for _ in range(1000):
        kind = rng.choice(kinds)
        frame = _mangle(rng, kind, dict(SAMPLES[kind]))
        try:
            event = ev.parse_server_event(frame)
        except ev.ProtocolError:
            outcomes["rejected"] += 1
        else:
            outcomes["unknown" if isinstance(event, ev.UnknownEvent) else "parsed"] += 1
    assert all(count > 0 for count in outcomes.values()), outcomes


def test_the_fast_audio_append_equals_the_model() -> None:
    pcm = bytes(range(256)) * 4
    import base64

    assert ce.audio_append_json(pcm) == ce.InputAudioAppend(audio=base64.b64encode(pcm).decode()).to_json()


def test_client_events_serialise_compactly_without_unset_fields() -> None:
    assert json.loads(ce.ResponseCancel().to_json()) == {"type": "response.cancel"}
    truncate = json.loads(ce.ItemTruncate(item_id="i", audio_end_ms=1200).to_json())
    assert truncate == {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, "audio_end_ms": 1200}
    update = json.loads(ce.SessionUpdate(session={"turn_detection": None}).to_json())
    assert update == {"type": "session.update", "session": {"turn_detection": None}}
