"""The [tools], [[mcp]], [agent] and [interim] settings: loading, secrets, saving, and the session they make."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, load_settings
from app.config_file import save_settings
from app.protocol.session import SessionConfig
from app.protocol.tools import FunctionToolDef, McpToolDef, StaticInterimResponse
from app.tools.compose import session_with_tools, version_problems
from app.tools.registry import load_tools
from app.tools.settings import AgentSettings, InterimSettings

ROOT = Path(__file__).resolve().parents[1]
TOML = """
[tools]
modules = ["examples/tools/clock_tools.py"]
timeout_s = 4
[tools.policies]
save_note = "never"

[[mcp]]
label = "docs"
url = "https://learn.example/api/mcp"
allowed_tools = ["search"]
require_approval = {never = ["search"]}
headers = {X-Api-Key = "hdr-secret-42"}

[[mcp]]
label = "wiki"
url = "http://127.0.0.1:9/mcp"

[agent]
name = "concierge"
project = "travel"

[interim]
enabled = true
kind = "static"
texts = ["Hold on."]
"""


def _write(tmp_path: Path, text: str = TOML) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_sections_load_from_the_config_file(tmp_path: Path) -> None:
    settings = load_settings(config_path=_write(tmp_path), environ={}, dotenv_path=tmp_path / "none.env")
    assert settings.tools.modules == ["examples/tools/clock_tools.py"] and settings.tools.timeout_s == 4
    assert settings.tools.policies == {"save_note": "never"}
    docs, wiki = settings.mcp
    assert docs.headers["X-Api-Key"].get_secret_value() == "hdr-secret-42"
    assert wiki.require_approval == "always"  # the service's default, said out loud
    assert settings.agent.enabled and settings.agent.name == "concierge"
    assert settings.interim.to_wire() == StaticInterimResponse(triggers=["tool", "latency"],
                                                               latency_threshold_ms=2000, texts=["Hold on."])


def test_header_values_are_secrets_kept_out_of_repr_but_saved_as_written(tmp_path: Path) -> None:
    settings = load_settings(config_path=_write(tmp_path), environ={}, dotenv_path=tmp_path / "none.env")
    assert "hdr-secret-42" in settings.secrets()
    assert "hdr-secret-42" not in repr(settings) and "hdr-secret-42" not in str(settings.mcp)
    td = settings.session.turn_detection
    assert td is not None
    settings.session = settings.session.model_copy(update={"turn_detection": td.model_copy(update={"threshold": 0.6})})
    saved = save_settings(settings)  # a save writes what changed and keeps the [[mcp]] tables as they were
    again = load_settings(config_path=saved, environ={}, dotenv_path=tmp_path / "none.env")
    assert again.session.turn_detection is not None and again.session.turn_detection.threshold == 0.6
    assert again.mcp == settings.mcp and again.mcp[0].headers["X-Api-Key"].get_secret_value() == "hdr-secret-42"


@pytest.mark.parametrize(("text", "words"), [
    ('[[mcp]]\nlabel = "has space"\nurl = "https://x.example/mcp"\n', "mcp.0.label"),
    ('[[mcp]]\nlabel = "x"\nurl = "x.example/mcp"\n', "mcp.0.url"),
    ('[tools.policies]\nping = "sometimes"\n', "tools.policies.ping"),
    ('[interim]\nkind = "loud"\n', "interim.kind"),
])
def test_bad_entries_are_one_sentence_naming_the_field(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(config_path=_write(tmp_path, text), environ={}, dotenv_path=tmp_path / "none.env")
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("agent", "words"), [
    (AgentSettings(name="concierge"), "needs both a name and a project"),
    (AgentSettings(project="travel"), "needs both a name and a project"),
    (AgentSettings(version="3"), "needs an agent"),
    (AgentSettings(), None),
])
def test_incomplete_agents_are_one_sentence(agent: AgentSettings, words: str | None) -> None:
    problem = agent.problem()
    assert (problem is None) if words is None else (words in (problem or "") and (problem or "").endswith("."))


def test_the_agent_name_and_project_may_come_from_different_sources(tmp_path: Path) -> None:
    settings = load_settings({("agent", "project"): "travel"}, config_path=_write(tmp_path, ""),
                             dotenv_path=tmp_path / "none.env", environ={"AZURE_VOICE_LIVE_AGENT_NAME": "concierge"})
    assert settings.agent.problem() is None and settings.agent.enabled


def test_the_agent_comes_from_the_environment_too(tmp_path: Path) -> None:
    settings = load_settings(config_path=_write(tmp_path, ""), dotenv_path=tmp_path / "none.env", environ={
        "AZURE_VOICE_LIVE_AGENT_NAME": "concierge", "AZURE_VOICE_LIVE_AGENT_PROJECT": "travel",
        "AZURE_VOICE_LIVE_AGENT_VERSION": "4", "AZURE_VOICE_LIVE_CONVERSATION_ID": "conv_1"})
    assert (settings.agent.name, settings.agent.project, settings.agent.version,
            settings.agent.conversation_id) == ("concierge", "travel", "4", "conv_1")


def test_the_session_gets_the_functions_the_servers_and_the_filler(tmp_path: Path) -> None:
    settings = load_settings(config_path=_write(tmp_path), environ={}, dotenv_path=tmp_path / "none.env")
    registry = load_tools(settings.tools.modules, policies=settings.tools.policies, base_dir=ROOT,
                          entry_point_group=None).registry
    config = session_with_tools(settings.session, registry=registry, mcp=settings.mcp, interim=settings.interim)
    tools = config.tools or []
    assert [t.name for t in tools if isinstance(t, FunctionToolDef)] == ["current_time"]  # save_note is `never`
    servers = [t for t in tools if isinstance(t, McpToolDef)]
    assert [s.server_label for s in servers] == ["docs", "wiki"]
    assert servers[0].headers == {"X-Api-Key": "hdr-secret-42"} and not servers[0].needs_approval("search")
    assert isinstance(config.interim_response, StaticInterimResponse)
    assert settings.session.tools is None  # the saved session is untouched
    assert version_problems(config, "2026-07-15") == []
    assert len(version_problems(config, "2025-10-01")) == 2


def test_nothing_configured_leaves_the_session_as_it_was() -> None:
    registry = load_tools([], entry_point_group=None).registry
    config = SessionConfig()
    assert session_with_tools(config, registry=registry, mcp=[], interim=InterimSettings()) is config
