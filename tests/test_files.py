"""What the app writes: private modes, transcripts written off the caller's thread, failed writes survived."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.conversation import Conversation
from app.export import export_path, export_text, to_jsonl, write_export
from app.files import WriteError, ensure_private_dir, write_atomic
from app.transcript import TranscriptWriter


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common default umask, under which plain open()/mkdir() give 0644 files and 0755 directories."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _talk(conversation: Conversation, n: int) -> None:
    conversation.add(f"u{n}", "user", f"question {n}", typed=True)
    conversation.finish(f"u{n}")
    conversation.add(f"a{n}", "assistant", f"answer {n}")
    conversation.finish(f"a{n}")


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_transcripts_and_exports_are_private_in_private_directories(tmp_path: Path, loose_umask: None) -> None:
    data = tmp_path / "data"
    transcript = data / "voicelive-tui" / "transcripts" / "t.jsonl"
    conversation = Conversation(transcript)
    _talk(conversation, 1)
    assert conversation.close()
    assert mode(transcript) == 0o600
    for folder in (data, data / "voicelive-tui", transcript.parent):
        assert mode(folder) == 0o700, folder
    export = write_export(export_path(transcript, "markdown"), export_text(conversation, "markdown"))
    assert export.name == "t-export.md" and mode(export) == 0o600
    assert "answer 1" in export.read_text(encoding="utf-8")


def test_an_existing_world_readable_transcript_is_made_private(tmp_path: Path, loose_umask: None) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("")
    assert mode(transcript) == 0o644
    conversation = Conversation(transcript)
    _talk(conversation, 1)
    assert conversation.close() and mode(transcript) == 0o600


def test_existing_directories_and_devices_keep_their_modes(tmp_path: Path, loose_umask: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    ensure_private_dir(shared / "mine")
    assert mode(shared) == 0o755 and mode(shared / "mine") == 0o700
    before = mode(Path("/dev/null"))
    writer = TranscriptWriter(Path("/dev/null"))
    writer.submit({"x": 1})
    assert writer.close()
    assert mode(Path("/dev/null")) == before


def test_the_transcript_and_its_fsync_run_off_the_callers_thread(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync
    fsync_threads: list[str] = []

    def watched_fsync(fd: int) -> None:
        fsync_threads.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    conversation = Conversation(tmp_path / "t.jsonl")
    _talk(conversation, 1)
    assert conversation.close()
    assert fsync_threads and threading.current_thread().name not in fsync_threads
    assert [r["text"] for r in _records(tmp_path / "t.jsonl")] == ["question 1", "answer 1"]


def test_a_failed_transcript_write_is_logged_once_and_retried_with_the_next_turn(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the transcript folder should be")
    transcript = blocker / "transcripts" / "t.jsonl"
    shown: list[str] = []
    conversation = Conversation(writer=TranscriptWriter(transcript, on_error=shown.append))
    assert conversation.transcript is not None
    with caplog.at_level(logging.WARNING, logger="app.transcript"):
        _talk(conversation, 1)  # must not raise
        assert conversation.transcript.wait_idle(5)
        _talk(conversation, 2)
        assert conversation.transcript.wait_idle(5)
    failures = [r for r in caplog.records if "Could not write the transcript" in r.getMessage()]
    assert len(failures) == 1 and failures[0].getMessage().count(".") >= 1 and "\n" not in failures[0].getMessage()
    assert shown == [failures[0].getMessage()]
    assert conversation.transcript.pending == 4 and [t.text for t in conversation.turns][-1] == "answer 2"
    blocker.unlink()  # the disk problem goes away
    _talk(conversation, 3)
    assert conversation.close()
    assert [r["text"] for r in _records(transcript)] == [
        "question 1", "answer 1", "question 2", "answer 2", "question 3", "answer 3"]


def test_close_writes_what_is_still_queued_and_a_turn_after_close_is_not_lost(tmp_path: Path) -> None:
    conversation = Conversation(tmp_path / "t.jsonl")
    for n in range(50):
        _talk(conversation, n)
    assert conversation.close()
    assert len(_records(tmp_path / "t.jsonl")) == 100
    _talk(conversation, 50)
    assert conversation.close()
    assert len(_records(tmp_path / "t.jsonl")) == 102


def test_live_transcript_and_jsonl_export_share_one_record_shape(tmp_path: Path) -> None:
    conversation = Conversation(tmp_path / "t.jsonl")
    _talk(conversation, 1)
    assert conversation.close()
    assert _records(tmp_path / "t.jsonl") == [json.loads(line) for line in to_jsonl(conversation).splitlines()]


def test_a_failed_export_is_one_sentence_and_leaves_no_temp_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WriteError) as info:
        write_export(blocker / "t-export.md", "text")
    message = str(info.value)
    assert message.startswith("Could not save the transcript export to") and message.endswith(".")
    assert "\n" not in message and info.value.path == blocker / "t-export.md"
    folder = tmp_path / "out"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        if os.access(folder, os.W_OK):  # root writes anywhere: the read-only case cannot happen here
            return
        with pytest.raises(WriteError):
            write_export(folder / "t-export.md", "text")
        assert list(folder.iterdir()) == []
    finally:
        os.chmod(folder, 0o700)


def test_atomic_write_replaces_the_whole_file(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "a" / "f.txt", "first version, longer")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second" and [p.name for p in path.parent.iterdir()] == ["f.txt"]
