"""Settings: one pydantic model tree, loaded from flags > environment > .env > TOML file > defaults.

Each source is validated as it is layered on, so an invalid value is reported as one sentence that names
the source it came from and the field it is in — never a pydantic traceback.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
import tomli_w
from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from app import APP_NAME
from app.presets import Preset  # tuning (issue 13)
from app.protocol.endpoint import ENTRA_SCOPE
from app.protocol.session import NULLABLE, SessionConfig

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
}


class ConfigError(ValueError):
    """A setting that cannot be used; the message is one sentence for the user."""


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

    @property
    def auth_mode(self) -> Literal["key", "entra"]:
        if self.auth:
            return self.auth
        return "key" if self.api_key and self.api_key.get_secret_value() else "entra"


class AudioSettings(_Section):
    """Devices and buffering. Sample rate and block size are fixed by the protocol (24 kHz, 20 ms)."""

    enabled: bool = True
    input_device: str | None = None
    output_device: str | None = None
    input_file: Path | None = None
    output_file: Path | None = None
    jitter_ms: int = Field(80, ge=0, le=1000)
    """Audio buffered before a reply starts playing; absorbs network jitter."""
    muted: bool = False
    echo_gate: bool = False
    """Do not send mic blocks quieter than what is playing (for speakers without good echo cancelling)."""


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

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def secrets(self) -> list[str]:
        """Values that must never be written anywhere (see logging redaction)."""
        key = self.connection.api_key
        return [key.get_secret_value()] if key and key.get_secret_value() else []


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


def _describe(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "settings"
    message = first["msg"].rstrip(".")
    if first["type"] == "extra_forbidden":
        message = "is not a known setting"
        return f"Invalid setting in {source}: {field} {message}."
    return f"Invalid setting in {source}: {field} — {message}."


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, path in ENV_VARS.items():
        value = environ.get(name)
        if value:
            _set(layer, path, value)
    return layer


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {path} is not valid TOML ({exc}).") from None
    except OSError as exc:
        raise ConfigError(f"The config file {path} cannot be read ({exc.strerror}).") from None


def load_settings(
    flags: Mapping[tuple[str, ...], Any] | None = None,
    *,
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
) -> Settings:
    """Layer every source over the defaults; raise `ConfigError` naming the first bad source and field."""
    environ = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, Any]]] = []
    path = config_path or default_config_path()
    if config_path is not None and not path.exists():
        raise ConfigError(f"The config file {path} does not exist.")
    if path.exists():
        layers.append((f"the config file {path}", read_toml(path)))
    env_file = dotenv_path or Path.cwd() / ".env"
    if env_file.is_file():
        # .env never overrides the real environment.
        dotenv = {k: v for k, v in dotenv_values(env_file).items() if v is not None and k not in environ}
        layers.append((f"the .env file {env_file}", _env_layer(dotenv)))
    layers.append(("the environment", _env_layer(environ)))
    flag_layer: dict[str, Any] = {}
    for key_path, value in (flags or {}).items():
        if value is not None:
            _set(flag_layer, key_path, value)
    layers.append(("the command line", flag_layer))

    # Partial overrides (a threshold in the TOML file) apply on top of the full defaults.
    data: dict[str, Any] = Settings().model_dump(mode="json", exclude_none=True)
    for key in NULLABLE:
        data["session"].setdefault(key, None)
    settings = Settings()
    for source, layer in layers:
        if not layer:
            continue
        data = _merge(data, layer)
        try:
            settings = Settings.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, source)) from None
    return settings


def save_settings(settings: Settings, path: Path | None = None, *, save_key: bool = False) -> Path:
    """Write the settings as TOML atomically (temp file + rename); the key only when asked, then 0600."""
    path = path or default_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = settings.model_dump(mode="json", exclude_none=True, exclude={"log_file"})
    data["connection"].pop("local", None)
    if save_key and settings.connection.api_key:
        data["connection"]["api_key"] = settings.connection.api_key.get_secret_value()
    else:
        data["connection"].pop("api_key", None)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            tomli_w.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
