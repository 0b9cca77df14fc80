"""What C libraries print on file descriptor 2 (ALSA's underrun notes) reaches the log, never the screen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_native_writes_go_to_the_log_and_python_stderr_to_the_terminal(tmp_path: Path) -> None:
    """Run in a child process: it rewires its own descriptor 2, which pytest's capture also uses."""
    script = f"""
import logging, os, sys
logging.basicConfig(filename={str(tmp_path / 'log.txt')!r}, level=logging.INFO)
from app.native_stderr import native_stderr_to_log
with native_stderr_to_log():
    os.write(2, b"ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred\\n")
    sys.__stderr__.write("drawn by the UI\\n")
    sys.stderr.write("said on exit\\n")
os.write(2, b"after: the terminal again\\n")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert "underrun" not in out.stderr
    assert "drawn by the UI" in out.stderr and "said on exit" in out.stderr and "after: the terminal" in out.stderr
    assert "underrun occurred" in (tmp_path / "log.txt").read_text()
