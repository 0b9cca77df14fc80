"""Function tools: the user's Python functions, offered to the model and run by the client.

A user module needs nothing from here; `from app.tools import tool` only marks a function safe or renames
it. Loading (`registry.load_tools`), schemas (`schema`), running (`runner.ToolRunner`), the service's
answering order (`calls.ToolCalls`) and the whole event-to-action logic (`dispatch.ToolDispatch`) have no
Textual in them: the session drives them, the UI draws `call_state` and answers approval questions.
"""

from __future__ import annotations

from app.tools.decorator import tool

__all__ = ["tool"]
