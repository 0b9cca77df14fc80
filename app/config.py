"""Settings: one pydantic model tree, loaded from flags > environment > .env > TOML file > defaults.

Each source is validated as it is layered on, so an invalid value is reported as one sentence that names
the source it came from and the field it is in — never a pydantic traceback. The loaded `Settings` remember
where each value came from (so a surprising endpoint can be traced to a stray `.env`), which file they were
loaded from and what they were at load time (so a save writes only what the user changed since; see
`app.config_file`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import platformdirs
from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator

from app import APP_NAME
from app.presets import Preset  # tuning (issue 13)
from app.protocol.endpoint import ENTRA_SCOPE
from app.protocol.session import NULLABLE, SessionConfig
from app.protocol.validation import error_sentence
from app.tools.settings import AgentSettings, InterimSettings, McpServerSettings, ToolsSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_API_VERSION = "2026-07-15"
DEFAULT_MODEL = "gpt-4o"

# The quickstart's environment variables, mapped onto the settings tree.
ENV_VARS: dict[str, tuple[str, ...]] = {
    "AZURE_VOICE_LIVE_ENDPOINT": ("connection", "endpoint"),
    "AZURE_VOICE_LIVE_API_KEY": ("connection", "api_key"),
    "VOICE_LIVE_MODEL": ("connection", "model"),
    "AZURE_VOICE_LIVE_API_VERSION": ("connection", "api_version"),
    "AZURE_VOICE_LIVE_AGENT_NAME": ("agent", "name"),
    "AZURE_VOICE_LIVE_AGENT_PROJECT": ("agent", "project"),
    "AZURE_VOICE_LIVE_AGENT_VERSION": ("agent", "version"),
    "AZURE_VOICE_LIVE_CONVERSATION_ID": ("agent", "conversation_id"),
}


class ConfigError(ValueError):
    """A setting that cannot be used; the message is one sentence for the user."""


SourceKind = Literal["default", "file", "dotenv", "env", "flag", "emulator"]
_SOURCE_TEXT = {"default": "the defaults", "env": "the environment", "flag": "the command line",
                "emulator": "the built-in emulator"}
_SOURCE_LABEL = {"default": "default", "file": "config file", "dotenv": ".env", "env": "environment",
                 "flag": "command line", "emulator": "emulator"}


@dataclass(frozen=True)
class Source:
    """Where a setting's value came from."""

    kind: SourceKind
    path: Path | None = None
    """The file, for `file` and `dotenv`."""

    def __str__(self) -> str:
        """For sentences: 'the .env file /home/me/project/.env', 'the command line'."""
        if self.kind == "file":
            return f"the config file {self.path}"
        if self.kind == "dotenv":
            return f"the .env file {self.path}"
        return _SOURCE_TEXT[self.kind]

    @property
    def label(self) -> str:
        """Short, for a status bar: '.env', 'config file', 'environment', 'command line', 'emulator'."""
        return _SOURCE_LABEL[self.kind]


DEFAULT_SOURCE = Source("default")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ConnectionSettings(_Section):
    """Where to connect and how to authenticate."""

    endpoint: str | None = None
    """Resource endpoint, e.g. https://<resource>.services.ai.azure.com/ (https becomes wss)."""
    api_key: SecretStr | None = None
    """API key; kept out of logs, the screen and the saved file unless --save-key."""
    model: str = Field(DEFAULT_MODEL, min_length=1)
    api_version: str = Field(DEFAULT_API_VERSION, min_length=1)
    auth: Literal["key", "entra"] | None = None
    """key or entra; unset means key when one is given, Microsoft Entra ID otherwise."""
    token_scope: str = ENTRA_SCOPE
    local: bool = False
    """Run against the built-in emulator instead of Azure."""
    allow_insecure: bool = False
    """Allow http:// or ws:// to a host other than this machine (credentials in clear text). Only the
    command line (--allow-insecure) and the config file can set it: a .env or the environment cannot."""

    @property
    def auth_mode(self) -> Literal["key", "entra"]:
        if self.auth:
            return self.auth
        return "key" if self.api_key and self.api_key.get_secret_value() else "entra"


class AudioSettings(_Section):
    """Devices and buffering. The sample rate is fixed by the protocol (24 kHz); block sizes by the engine."""

    enabled: bool = True
    input_device: str | None = None
    """Index (as listed by `voicelive-tui devices`) or part of the name; `input_device = 3` works too."""
    output_device: str | None = None
    input_file: Path | None = None
    output_file: Path | None = None
    jitter_ms: int = Field(80, ge=0, le=1000)
    """Audio buffered beyond what the device takes at once before a reply starts playing: the margin for
    network jitter (it grows by 20 ms after each gap heard, and shrinks back with replies heard whole)."""
    muted: bool = False
    echo_gate: bool = False
    """Do not send mic blocks quieter than what is playing (for speakers without good echo cancelling)."""
    barge_in: Literal["duck", "service", "local-cut"] = "duck"
    """Talking over a reply: duck it at once and cut when the service confirms (duck), wait for the service
    (service), or cut it as soon as the microphone hears you (local-cut: best with headphones)."""
    duck_window_ms: int = Field(600, ge=100, le=5000)
    """How long a ducked reply waits for the service to confirm before it comes back (a cough, a door)."""

    @field_validator("input_device", "output_device", mode="before")
    @classmethod
    def _index_as_text(cls, value: Any) -> Any:
        """A device index written as a TOML integer means the same as the digits."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Settings(_Section):
    connection: ConnectionSettings = Field(default_factory=ConnectionSettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    session: SessionConfig = Field(default_factory=SessionConfig)
    log_file: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    keys: dict[str, str] = Field(default_factory=dict)
    """Key remapping: binding id -> key(s), e.g. {mute = "ctrl+m"}."""
    # -- tuning (issue 13): models in app.presets --
    presets: dict[str, Preset] = Field(default_factory=dict)
    """Named turn-detection settings, `[presets.NAME]`; switch and compare them with p or the palette."""
    push_to_talk: bool = False
    """Start with turn detection off: the talk key (space) makes the turns (--push-to-talk)."""
    # -- end tuning --
    tools: ToolsSettings = Field(default_factory=ToolsSettings)
    mcp: list[McpServerSettings] = Field(default_factory=list)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    interim: InterimSettings = Field(default_factory=InterimSettings)

    # Where the settings came from; set by load_settings, carried along by model_copy().
    _config_path: Path | None = PrivateAttr(None)
    _sources: dict[tuple[str, ...], Source] = PrivateAttr(default_factory=dict)
    _loaded: tuple[SessionConfig, AudioSettings] | None = PrivateAttr(None)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def secrets(self) -> list[str]:
        """Values that must never be written anywhere (see logging redaction)."""
        key = self.connection.api_key
        found = [key.get_secret_value()] if key and key.get_secret_value() else []
        return found + [secret for server in self.mcp for secret in server.secrets()]

    @property
    def config_path(self) -> Path:
        """The file these settings were loaded from (`--config PATH` or the default), where a save goes."""
        return self._config_path or default_config_path()

    @property
    def sources(self) -> Mapping[tuple[str, ...], Source]:
        """Where each value set by something other than the defaults came from, by path."""
        return dict(self._sources)

    def source_of(self, *path: str) -> Source:
        """Where the value at `path` (e.g. "connection", "model") came from."""
        return self._sources.get(path, DEFAULT_SOURCE)

    @property
    def endpoint_source(self) -> Source:
        """Where the endpoint the app will use came from: the emulator with --local, else its layer."""
        return Source("emulator") if self.connection.local else self.source_of("connection", "endpoint")

    @property
    def loaded(self) -> tuple[SessionConfig, AudioSettings]:
        """The session and audio settings as they were loaded: what a save compares against."""
        return self._loaded or (SessionConfig(), AudioSettings())


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_log_path() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME)) / f"{APP_NAME}.log"


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        node = tree.get(key)
        if not isinstance(node, dict):
            node = tree[key] = {}
        tree = node
    tree[path[-1]] = value


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, path in ENV_VARS.items():
        value = environ.get(name)
        if value:
            _set(layer, path, value)
    return layer


def _leaves(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            paths += _leaves(value, (*prefix, key))
        else:
            paths.append((*prefix, key))
    return paths


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; anything wrong with it (syntax, encoding, access) is one `ConfigError` sentence."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {path} is not valid TOML ({exc}).") from None
    except UnicodeDecodeError:
        raise ConfigError(f"The config file {path} is not UTF-8 text; save it as UTF-8.") from None
    except OSError as exc:
        raise ConfigError(f"The config file {path} cannot be read ({exc.strerror}).") from None


OFF_PATHS = frozenset({
    *(("session", key) for key in NULLABLE),
    ("session", "turn_detection", "end_of_utterance_detection"),
    ("session", "voice", "temperature"),
})
"""Settings whose default is on but which can be switched off (null); a config file says `false` for that."""


def file_layer(tree: dict[str, Any]) -> dict[str, Any]:
    """A config file's settings as the loader layers them: `false` at one of `OFF_PATHS` (TOML has no
    null) switches that setting off, like an explicit null in `session.update`."""
    for path in OFF_PATHS:
        node: Any = tree
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(path[-1]) is False:
            node[path[-1]] = None
    return tree


def _defaults() -> dict[str, Any]:
    data: dict[str, Any] = Settings().model_dump(mode="json", exclude_none=True)
    for key in NULLABLE:
        data["session"].setdefault(key, None)
    return data


def check_file(tree: dict[str, Any], path: Path) -> None:
    """Raise `ConfigError` if a config file with this content would stop the app from starting."""
    try:
        Settings.model_validate(_merge(_defaults(), file_layer(tree)))
    except ValidationError as exc:
        raise ConfigError(error_sentence(exc, where=str(Source("file", path)))) from None


def _read_dotenv(env_file: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        values = dotenv_values(env_file)
    except UnicodeDecodeError:
        raise ConfigError(f"The .env file {env_file} is not UTF-8 text; save it as UTF-8.") from None
    except OSError as exc:
        raise ConfigError(f"The .env file {env_file} cannot be read ({exc.strerror}).") from None
    # .env never overrides the real environment.
    return _env_layer({k: v for k, v in values.items() if v is not None and k not in environ})


def load_settings(
    flags: Mapping[tuple[str, ...], Any] | None = None,
    *,
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
) -> Settings:
    """Layer every source over the defaults; raise `ConfigError` naming the first bad source and field."""
    environ = os.environ if environ is None else environ
    layers: list[tuple[Source, dict[str, Any]]] = []
    path = config_path or default_config_path()
    if config_path is not None and not path.exists():
        raise ConfigError(f"The config file {path} does not exist.")
    if path.exists():
        layers.append((Source("file", path), file_layer(read_toml(path))))
    env_file = dotenv_path or Path.cwd() / ".env"
    if env_file.is_file():
        layers.append((Source("dotenv", env_file), _read_dotenv(env_file, environ)))
    layers.append((Source("env"), _env_layer(environ)))
    flag_layer: dict[str, Any] = {}
    for key_path, value in (flags or {}).items():
        if value is not None:
            _set(flag_layer, key_path, value)
    layers.append((Source("flag"), flag_layer))

    # Partial overrides (a threshold in the TOML file) apply on top of the full defaults.
    data = _defaults()
    settings = Settings()
    sources: dict[tuple[str, ...], Source] = {}
    for source, layer in layers:
        if not layer:
            continue
        data = _merge(data, layer)
        try:
            settings = Settings.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(error_sentence(exc, where=str(source))) from None
        sources.update(dict.fromkeys(_leaves(layer), source))
    settings._config_path = path
    settings._sources = sources
    settings._loaded = (settings.session.model_copy(deep=True), settings.audio.model_copy(deep=True))
    return settings
