"""Example tools for voicelive-tui: a safe clock and a note-taker that asks first.

Use them with `[tools] modules = ["examples/tools/clock_tools.py"]` in the config file (or a module name on
sys.path), then ask "what time is it in Tokyo?" or "take a note: buy milk".

Every public function here becomes a tool; the JSON schema the model sees comes from the type hints and the
docstring (the first paragraph describes the tool, `Args:` describes each parameter). `@tool(safe=True)`
lets a read-only tool run without asking; anything else asks you first (policy `ask`), unless the config
says otherwise under `[tools.policies]`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from app.tools import tool

NOTES_FILE = "voicelive-notes.txt"


@tool(safe=True)
def current_time(timezone: str = "UTC") -> dict[str, str]:
    """The current date and time in a time zone.

    Args:
        timezone: An IANA time zone name, such as "Europe/Paris" or "America/New_York".
    """
    now = dt.datetime.now(ZoneInfo(timezone))
    return {"timezone": timezone, "date": now.strftime("%A %d %B %Y"), "time": now.strftime("%H:%M")}


def save_note(text: str, title: str = "note") -> str:
    """Save a short note to a text file in the current directory.

    Args:
        text: What to write down, in the user's words.
        title: A few words naming the note.
    """
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    path = Path(NOTES_FILE)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"[{stamp}] {title}: {text}\n")
    return f"Saved the note {title!r} to {path.resolve()}."
