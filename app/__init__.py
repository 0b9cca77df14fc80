"""voicelive-tui: a full-screen terminal client for Azure AI Voice Live."""

from __future__ import annotations

__version__ = "0.1.0"
APP_NAME = "voicelive-tui"
