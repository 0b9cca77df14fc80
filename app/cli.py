"""Command line: `voicelive-tui [options]` runs the app; `serve` runs the emulator; `devices` lists devices.

Every failure before the UI starts is one sentence on stderr and exit code 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app import APP_NAME, __version__
from app.config import DEFAULT_API_VERSION, ConfigError, Settings, default_log_path, load_settings
from app.logs import LogFileError, setup_logging
from app.native_stderr import native_stderr_to_log
from app.protocol.endpoint import EndpointError, host_of, realtime_url

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0  # `serve`: how long Ctrl+C waits for open connections to close
NO_SETTINGS = (
    "No Azure Voice Live endpoint is configured. Set AZURE_VOICE_LIVE_ENDPOINT and AZURE_VOICE_LIVE_API_KEY "
    "(in the environment or a .env file), or pass --endpoint; or try the built-in emulator with: "
    f"{APP_NAME} --local"
)


AGENT_NEEDS_ENTRA = (
    "A Foundry agent can only be reached with Microsoft Entra ID, not an API key: sign in with `az login` "
    "and pass --auth entra (or set auth = \"entra\" under [connection])."
)


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=APP_NAME,
        description="Talk to Azure AI Voice Live from the terminal. Subcommands: `serve` runs the local "
        "emulator on a port, `devices` lists audio devices.",
        epilog="Keys: m mute, i interrupt, t type a message, q quit. Settings also come from "
        "AZURE_VOICE_LIVE_ENDPOINT / AZURE_VOICE_LIVE_API_KEY / VOICE_LIVE_MODEL / AZURE_VOICE_LIVE_API_VERSION, "
        "a .env file and the config file.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    conn = parser.add_argument_group("connection")
    conn.add_argument("--endpoint", help="resource endpoint, e.g. https://NAME.services.ai.azure.com/")
    conn.add_argument("--model", help="model name (default gpt-4o)")
    conn.add_argument("--api-version", help=f"API version (default {DEFAULT_API_VERSION})")
    conn.add_argument("--auth", choices=["key", "entra"], help="API key or Microsoft Entra ID (default: key if set)")
    conn.add_argument("--local", action="store_true", default=None,
                      help="run against the built-in emulator (no Azure needed)")
    conn.add_argument("--allow-insecure", action="store_true", default=None,
                      help="allow http:// or ws:// to a host other than this machine (sends credentials unencrypted)")
    agent = parser.add_argument_group("Foundry agent (instead of a model; needs Microsoft Entra ID)")
    agent.add_argument("--agent", metavar="NAME", help="talk to this Foundry agent")
    agent.add_argument("--project", metavar="NAME", help="the Foundry project that holds the agent")
    agent.add_argument("--agent-version", metavar="V", help="a specific version of the agent")
    agent.add_argument("--conversation-id", metavar="ID", help="continue this Foundry conversation")
    audio = parser.add_argument_group("audio")
    audio.add_argument("--input-device", metavar="ID|NAME", help="microphone: index or part of the name")
    audio.add_argument("--output-device", metavar="ID|NAME", help="speaker: index or part of the name")
    audio.add_argument("--no-audio", action="store_true", help="text mode: no microphone or speaker")
    audio.add_argument("--input-file", type=Path, metavar="WAV", help="use a WAV file as the microphone (real time)")
    audio.add_argument("--output-file", type=Path, metavar="WAV", help="also record what is played to a WAV file")
    audio.add_argument("--echo-gate", action="store_true", default=None,
                       help="do not send mic audio quieter than what is playing (speakers without headphones)")
    audio.add_argument("--jitter-ms", type=int, metavar="MS", help="audio buffered before a reply plays (default 80)")
    audio.add_argument("--push-to-talk", action="store_true", default=None,  # tuning (issue 13)
                       help="turn detection off: hold or tap space to talk, tap again to send")
    other = parser.add_argument_group("files")
    other.add_argument("--config", type=Path, metavar="PATH", help="settings file (TOML)")
    other.add_argument("--log-file", type=Path, metavar="PATH", help=f"log file (default {default_log_path()})")
    other.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)
    other.add_argument("--save-key", action="store_true",
                       help="store the API key in the config file (mode 0600); it is never stored otherwise")
    return parser


def _flags(args: argparse.Namespace) -> dict[tuple[str, ...], Any]:
    return {
        ("connection", "endpoint"): args.endpoint,
        ("connection", "model"): args.model,
        ("connection", "api_version"): args.api_version,
        ("connection", "auth"): args.auth,
        ("connection", "local"): args.local,
        ("connection", "allow_insecure"): args.allow_insecure,
        ("agent", "name"): args.agent,
        ("agent", "project"): args.project,
        ("agent", "version"): args.agent_version,
        ("agent", "conversation_id"): args.conversation_id,
        ("audio", "input_device"): args.input_device,
        ("audio", "output_device"): args.output_device,
        ("audio", "enabled"): False if args.no_audio else None,
        ("audio", "jitter_ms"): args.jitter_ms,
        ("audio", "input_file"): args.input_file,
        ("audio", "output_file"): args.output_file,
        ("audio", "echo_gate"): args.echo_gate,
        ("push_to_talk",): args.push_to_talk,  # tuning (issue 13)
        ("log_file",): args.log_file,
        ("log_level",): args.log_level,
    }


def _fail(message: str) -> int:
    print(f"{APP_NAME}: {message}", file=sys.stderr)  # noqa: T201 - the UI is not running yet
    return 2


def _endpoint_problem(settings: Settings) -> str | None:
    """Why the configured endpoint cannot be used, checked before anything starts (None: it can)."""
    conn = settings.connection
    if conn.local:
        return None
    if not conn.endpoint:
        return NO_SETTINGS
    try:
        realtime_url(conn.endpoint, api_version=conn.api_version, model=conn.model,
                     allow_insecure=conn.allow_insecure)
    except EndpointError as exc:
        source = settings.endpoint_source
        return str(exc) if source.kind == "flag" else f"{str(exc).rstrip('.')} (the endpoint is from {source})."
    return None


def run_app(settings: Settings) -> int:
    from app.audio.engine import AudioEngine
    from app.services import Services
    from app.startup import local_emulator
    from app.tui import VoiceLiveApp

    log_path = settings.log_file or default_log_path()
    try:
        setup_logging(log_path, settings.log_level, settings.secrets())
    except LogFileError as exc:
        return _fail(str(exc))
    log.info("%s %s starting (%s)", APP_NAME, __version__, "emulator" if settings.connection.local else "Azure")
    if settings.connection.local:
        log.info("endpoint from the built-in emulator")
    else:
        log.info("endpoint %s from %s", host_of(settings.connection.endpoint or ""), settings.endpoint_source)
    services = Services()
    if settings.audio.enabled:
        services.engine = AudioEngine(
            input_device=settings.audio.input_device, output_device=settings.audio.output_device,
            jitter_ms=settings.audio.jitter_ms, echo_gate=settings.audio.echo_gate,
            input_file=settings.audio.input_file, output_file=settings.audio.output_file,
            barge_in=settings.audio.barge_in, duck_window_s=settings.audio.duck_window_ms / 1000,
        )
    else:
        services.audio_error = "Audio is off (--no-audio): running in text mode; press t to type."
    if settings.connection.local:
        services.emulator, services.credential = local_emulator(settings)  # an agent: a token, not the key
    # Threads hand the GIL over every 1 ms instead of 5: the session's thread and the audio engine's device
    # worker get it promptly while Textual lays out (measured: device flush median 0.5–0.9 ms vs 2.6–4.4).
    sys.setswitchinterval(0.001)
    app = VoiceLiveApp(settings, services)
    with native_stderr_to_log():
        app.run()
    code = app.return_code or 0
    log.info("exiting with code %d", code)
    logging.shutdown()
    return code


def _in_range(kind: Callable[[str], float], low: float, high: float) -> Callable[[str], Any]:
    """An argparse type: a number of `kind` within [low, high], else one sentence and exit code 2."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {low:g}–{high:g}")
        return value

    return parse


def serve(argv: Sequence[str]) -> int:
    from app.emulator.server import EmulatorOptions, EmulatorServer

    parser = argparse.ArgumentParser(prog=f"{APP_NAME} serve", description="Run the local Voice Live emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_in_range(int, 0, 65535), default=8765, help="0 picks a free port")
    parser.add_argument("--api-key", help="key clients must send (default: a random one, printed)")
    parser.add_argument("--accept-any-token", action="store_true",
                        help="also accept any bearer token (Authorization: Bearer …), for testing Entra ID clients")
    parser.add_argument("--max-connections", type=_in_range(int, 1, 10000), default=64, metavar="N",
                        help="concurrent connections; more are refused with HTTP 503 (default 64)")
    behaviour = parser.add_argument_group("timing (like the service)")
    behaviour.add_argument("--speed", type=_in_range(float, 0.1, 10000), default=4.0,
                           help="reply audio sent N times faster than real time (default 4; 1 = real time)")
    behaviour.add_argument("--chunk-ms", type=_in_range(int, 5, 1000), default=40, metavar="MS",
                           help="reply audio per response.audio.delta (default 40)")
    behaviour.add_argument("--vad-delay-ms", type=_in_range(int, 0, 5000), default=0, metavar="MS",
                           help="report speech_started/stopped this much input audio late (the service: 200-500)")
    behaviour.add_argument("--semantic-eou", action="store_true",
                           help="with end_of_utterance_detection, wait its timeout longer after a rising pitch")
    behaviour.add_argument("--session-cap", type=_in_range(float, 1, 86400), default=3600.0, metavar="SECONDS",
                           help="close each session after this long (the service: 3600)")
    faults = parser.add_argument_group("fault injection (for testing clients)")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="delay before every event sent")
    faults.add_argument("--net-jitter-ms", type=_in_range(float, 0, 1000), default=0.0, metavar="MS",
                        help="send each audio delta up to ± MS off its pace (order kept)")
    faults.add_argument("--drop-after", type=float, metavar="SECONDS", help="abort each connection after this long")
    faults.add_argument("--drop-after-events", type=int, metavar="N", help="abort each connection after N events")
    faults.add_argument("--error-after-events", type=int, metavar="N", help="send a server error after N events")
    faults.add_argument("--unknown-every", type=int, metavar="N", help="send an unknown event type every N events")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    options = EmulatorOptions(
        speed=args.speed, chunk_ms=args.chunk_ms, vad_delay_ms=args.vad_delay_ms, net_jitter_ms=args.net_jitter_ms,
        semantic_eou=args.semantic_eou,
        session_cap_s=args.session_cap, accept_any_token=args.accept_any_token,
        max_connections=args.max_connections, latency_ms=args.latency_ms, drop_after_s=args.drop_after,
        drop_after_events=args.drop_after_events, error_after_events=args.error_after_events,
        unknown_event_every=args.unknown_every,
    )
    server = EmulatorServer(host=args.host, port=args.port, api_key=args.api_key, options=options)

    async def main() -> None:
        # Ctrl+C (or a SIGTERM) sets an event rather than cancelling this task through the server's
        # internals: a CI run once saw a SIGINT here not end the process within 10 s. Installed before the
        # endpoint is printed, so whoever reads it and signals reaches this handler.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C raises KeyboardInterrupt instead
                loop.add_signal_handler(signum, stop.set)
        try:
            await server.start()
        except OSError as exc:
            raise SystemExit(_fail(f"cannot listen on {args.host}:{args.port} ({exc.strerror}).")) from None
        print(f"Voice Live emulator on {server.endpoint}  (endpoint for clients)", flush=True)  # noqa: T201
        # port 0 asks the system for a free port; the line above shows the one it gave
        print(f"API key: {server.api_key}    Ctrl+C stops it.", flush=True)  # noqa: T201
        print(f"Options: {options.describe()}", flush=True)  # noqa: T201
        try:
            await stop.wait()
        finally:
            try:
                await asyncio.wait_for(server.stop(), STOP_TIMEOUT_S)
            except asyncio.TimeoutError:  # not the builtin TimeoutError before 3.11
                _fail(f"open connections did not close within {STOP_TIMEOUT_S:g} s; stopped anyway.")

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(main())
    return 0


def devices() -> int:
    from app.audio.devices import AudioUnavailable, format_device_table, list_devices

    try:
        print(format_device_table(list_devices()))  # noqa: T201
    except AudioUnavailable as exc:
        return _fail(str(exc))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    if argv[:1] == ["devices"]:
        return devices()
    if argv[:1] == ["run"]:
        argv = argv[1:]
    args = _run_parser().parse_args(argv)
    try:
        settings = load_settings(_flags(args), config_path=args.config)
    except ConfigError as exc:
        return _fail(str(exc))
    if not settings.connection.local and not settings.connection.endpoint:
        return _fail(NO_SETTINGS)
    if (agent_problem := settings.agent.problem()) is not None:
        return _fail(agent_problem)
    if settings.agent.enabled and not settings.connection.local and settings.connection.auth_mode == "key":
        return _fail(AGENT_NEEDS_ENTRA)
    problem = _endpoint_problem(settings)
    if problem is not None:
        return _fail(problem)
    if args.save_key:
        from app.config_file import save_api_key
        from app.files import WriteError

        if settings.connection.api_key is None:
            return _fail("--save-key was given but there is no API key to save (set AZURE_VOICE_LIVE_API_KEY).")
        try:
            path = save_api_key(settings)
        except WriteError as exc:
            return _fail(str(exc))
        print(f"Saved the API key to {path} (readable by you only).")  # noqa: T201
    if settings.audio.input_file is not None:
        from app.audio.wav import WavError, read_wav

        try:
            read_wav(settings.audio.input_file)
        except WavError as exc:
            return _fail(str(exc))
    return run_app(settings)
