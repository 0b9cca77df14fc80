"""Finding sounddevice and the devices, turning every failure into one sentence.

sounddevice is imported lazily: PortAudio enumerates devices at import, and a missing PortAudio library
must become "text mode", not an ImportError at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal


class AudioUnavailable(RuntimeError):
    """No audio for this session; the message is one sentence saying why."""


def load_sounddevice() -> ModuleType:
    try:
        import sounddevice
    except OSError:
        raise AudioUnavailable(
            "PortAudio is not installed (apt install libportaudio2), so audio is off: running in text mode."
        ) from None
    module: ModuleType = sounddevice
    return module


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    host_api: str
    max_input: int
    max_output: int
    default_rate: float
    is_default_input: bool
    is_default_output: bool


def list_devices() -> list[DeviceInfo]:
    sd = load_sounddevice()
    try:
        devices: Any = sd.query_devices()
        apis = [api["name"] for api in sd.query_hostapis()]
        default_in, default_out = sd.default.device
    except Exception as exc:
        raise AudioUnavailable(f"The sound system could not be queried ({exc}).") from None
    found = []
    for index, dev in enumerate(devices):
        found.append(
            DeviceInfo(
                index=index,
                name=str(dev["name"]),
                host_api=apis[dev["hostapi"]] if dev["hostapi"] < len(apis) else "?",
                max_input=int(dev["max_input_channels"]),
                max_output=int(dev["max_output_channels"]),
                default_rate=float(dev["default_samplerate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
            )
        )
    return found


def resolve_device(spec: str | None, kind: Literal["input", "output"]) -> int | None:
    """A device index from an index or a case-insensitive name substring; None means the default."""
    devices = list_devices()
    usable = [d for d in devices if (d.max_input if kind == "input" else d.max_output) > 0]
    if not usable:
        raise AudioUnavailable(f"No {kind} audio device was found, so audio is off: running in text mode.")
    if spec is None or spec == "":
        return None
    if spec.isdigit():
        index = int(spec)
        if any(d.index == index for d in usable):
            return index
        raise AudioUnavailable(f"There is no {kind} device with index {index}; `voicelive-tui devices` lists them.")
    matches = [d for d in usable if spec.lower() in d.name.lower()]
    if not matches:
        raise AudioUnavailable(f"No {kind} device matches {spec!r}; `voicelive-tui devices` lists them.")
    return matches[0].index


def format_device_table(devices: list[DeviceInfo]) -> str:
    """The `voicelive-tui devices` listing, defaults marked with > (input) and < (output)."""
    if not devices:
        return "No audio devices found."
    lines = ["     #  in out  rate   name (host API)"]
    for d in devices:
        mark = (">" if d.is_default_input else " ") + ("<" if d.is_default_output else " ")
        counts = f"{d.max_input:2d} {d.max_output:3d}  {d.default_rate / 1000:4.1f}k"
        lines.append(f"{mark} {d.index:3d}  {counts}  {d.name} ({d.host_api})")
    lines.append("> default input   < default output")
    return "\n".join(lines)
