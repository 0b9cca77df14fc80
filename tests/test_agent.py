"""Foundry agents: the handshake carries the agent's query parameters, and an API key alone is refused."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.cli import AGENT_NEEDS_ENTRA, main
from app.config import load_settings
from app.protocol.endpoint import realtime_url, with_agent
from app.tools.settings import AgentSettings


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def test_the_agent_parameters_replace_the_model() -> None:
    model_url = realtime_url("https://res.services.ai.azure.com/", api_version="2026-07-15", model="gpt-4o")
    url = with_agent(model_url, name="concierge", project="travel", version="3", conversation_id="conv_9")
    assert url.startswith("wss://res.services.ai.azure.com/voice-live/realtime?")
    assert _query(url) == [("api-version", "2026-07-15"), ("agent-name", "concierge"),
                           ("agent-project-name", "travel"), ("agent-version", "3"), ("conversation-id", "conv_9")]


def test_optional_agent_parameters_are_left_out_and_other_parameters_kept() -> None:
    model_url = realtime_url("https://r.services.ai.azure.com/?x=1", api_version="v", model="m")
    assert dict(_query(with_agent(model_url, name="a b", project="p"))) == {
        "api-version": "v", "x": "1", "agent-name": "a b", "agent-project-name": "p"}
    assert "agent-name=a+b" in with_agent(model_url, name="a b", project="p")  # encoded


def test_agent_settings_build_the_url_only_when_an_agent_is_set() -> None:
    model_url = realtime_url("https://r.services.ai.azure.com", api_version="v", model="m")
    assert AgentSettings().url(model_url) == model_url
    assert "agent-name=x" in AgentSettings(name="x", project="p").url(model_url)


def test_the_flags_set_the_agent(tmp_path: Path) -> None:
    from app.cli import _flags, _run_parser

    args = _run_parser().parse_args(["--agent", "concierge", "--project", "travel", "--agent-version", "2",
                                     "--conversation-id", "c1", "--auth", "entra", "--endpoint", "https://r.x"])
    settings = load_settings(_flags(args), environ={}, dotenv_path=tmp_path / "none.env")
    assert settings.agent == AgentSettings(name="concierge", project="travel", version="2", conversation_id="c1")
    assert settings.connection.auth_mode == "entra"


@pytest.mark.parametrize("extra", [[], ["--auth", "key"]])
def test_an_api_key_alone_is_refused_with_one_sentence(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], extra: list[str]) -> None:
    monkeypatch.setenv("AZURE_VOICE_LIVE_API_KEY", "k-agent-123")
    code = main(["--endpoint", "https://r.services.ai.azure.com", "--agent", "concierge", "--project", "travel",
                 *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert AGENT_NEEDS_ENTRA in err and err.count("\n") == 0 and "k-agent-123" not in err


def test_an_agent_without_its_project_is_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--endpoint", "https://r.services.ai.azure.com", "--auth", "entra", "--agent", "concierge"]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs both a name and a project" in err and err.count("\n") == 0
