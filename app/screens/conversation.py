"""The main screen: status line, level meters, the conversation log, the prompt and the footer.

It renders what the session reports (`show`) and turns keys into requests on the App, which owns the
session: the screen never talks to the socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from app.protocol.session import SessionConfig
from app.voicelive import notices as nt
from app.widgets.conversation_log import ConversationLog
from app.widgets.level_meter import LevelMeter, LevelSource
from app.widgets.prompt import MessagePrompt
from app.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from app.tui import VoiceLiveApp


def details_line(notice: nt.AssistantTurnEnded) -> str:
    parts = []
    if notice.first_audio_ms is not None:
        parts.append(f"first audio {notice.first_audio_ms} ms after your turn")
    if notice.audio_ms:
        parts.append(f"{notice.audio_ms / 1000:.1f} s of audio")
    if notice.interrupted_at_ms is not None:
        parts.append(f"interrupted at {notice.interrupted_at_ms / 1000:.2f} s")
    return " · ".join(parts) or "no audio"


def short_voice(name: str) -> str:
    """en-US-Ava:DragonHDLatestNeural → Ava; alloy → alloy (the status line has 80 columns to share)."""
    base = name.split(":")[0]
    return base.split("-", 2)[2] if base.count("-") >= 2 else base


def short_vad(kind: str) -> str:
    return {"server_vad": "server-vad", "azure_semantic_vad": "semantic", "azure_semantic_vad_en": "semantic-en",
            "azure_semantic_vad_multilingual": "semantic-multi", "semantic_vad": "openai-semantic"}.get(kind, kind)


class ConversationScreen(Screen[None]):
    BINDINGS = [
        Binding("m", "app.toggle_mute", "Mute", id="mute"),
        Binding("i", "app.interrupt", "Interrupt", id="interrupt"),
        Binding("t", "type_message", "Type", id="type"),
        Binding("s", "app.open_settings", "Settings", id="settings"),
        Binding("question_mark", "app.help", "Help", key_display="?", id="help"),
        Binding("left_square_bracket", "app.nudge_threshold(-0.05)", "Thr−", key_display="[", id="threshold-down"),
        Binding("right_square_bracket", "app.nudge_threshold(0.05)", "Thr+", key_display="]", id="threshold-up"),
        Binding("left_curly_bracket", "app.nudge_silence(-100)", "Sil−", key_display="{", id="silence-down"),
        Binding("right_curly_bracket", "app.nudge_silence(100)", "Sil+", key_display="}", id="silence-up"),
        Binding("d", "toggle_details", "Turn details", show=False, id="details"),
    ]

    def __init__(self, mic: LevelSource | None, speaker: LevelSource | None, config: SessionConfig) -> None:
        super().__init__(id="conversation")
        self._mic = mic
        self._speaker = speaker
        self._initial_config = config

    def on_mount(self) -> None:
        self.show_config(self._initial_config)

    @property
    def voice_app(self) -> VoiceLiveApp:
        return cast("VoiceLiveApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Horizontal(id="meters"):
            yield LevelMeter("mic", self._mic, id="mic-meter")
            yield LevelMeter("out", self._speaker, id="out-meter")
        yield ConversationLog()
        yield MessagePrompt()
        yield Footer(compact=True, show_command_palette=False)

    @property
    def log_view(self) -> ConversationLog:
        return self.query_one(ConversationLog)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def mic_meter(self) -> LevelMeter:
        return self.query_one("#mic-meter", LevelMeter)

    # ------------------------------------------------------------------ keys handled here
    def action_type_message(self) -> None:
        prompt = self.query_one(MessagePrompt)
        prompt.add_class("-visible")
        prompt.focus()

    def on_message_prompt_left(self, message: MessagePrompt.Left) -> None:
        prompt = self.query_one(MessagePrompt)
        prompt.remove_class("-visible")
        prompt.value = ""
        self.set_focus(None)

    def action_toggle_details(self) -> None:
        self.log_view.toggle_class("-details")

    # ------------------------------------------------------------------ what the session reports
    def show_config(self, config: SessionConfig) -> None:
        self.status.voice = short_voice(config.voice.name)
        td = config.turn_detection
        self.status.vad = f"{short_vad(td.type)} {td.threshold:.2f} {td.silence_duration_ms}ms" if td else "VAD off"
        self.mic_meter.threshold = td.threshold if td else None

    async def show(self, notice: nt.Notice) -> None:
        view = self.log_view
        match notice:
            case nt.ConnectionChanged(state=state, detail=detail, attempt=attempt):
                self.status.state, self.status.detail, self.status.attempt = state, detail, attempt
                if state in ("failed", "closed") and detail:
                    await view.add_notice(detail, "error")
            case nt.SessionApplied(config=config):
                self.show_config(config)
            case nt.SessionRejected(message=text, param=param):
                await view.add_notice(f"Settings rejected{f' ({param})' if param else ''}: {text}", "error")
            case nt.SpeechStarted():
                self.mic_meter.speaking = True
            case nt.SpeechStopped():
                self.mic_meter.speaking = False
            case nt.UserTurnAdded(item_id=item_id, text=text):
                await view.add_user(item_id, text, typed=text is not None)
            case nt.UserTranscribed(item_id=item_id, text=text, final=final, failed=failed):
                user_turn = view.user_turn(item_id) or await view.add_user(item_id, None)
                shown = f"(transcription failed: {text})" if failed else text
                user_turn.set_text(shown, final=final, failed=failed)
                view.follow()
            case nt.AssistantTurnStarted(item_id=item_id):
                await view.add_assistant(item_id)
            case nt.AssistantTextDelta(item_id=item_id, delta=delta):
                reply = view.assistant_turn(item_id) or await view.add_assistant(item_id)
                await reply.append(delta)
                view.follow()
            case nt.AssistantTurnEnded():
                reply = view.assistant_turn(notice.item_id) or await view.add_assistant(notice.item_id)
                await reply.finish(status=notice.status, interrupted_at_ms=notice.interrupted_at_ms,
                                   heard_text=notice.heard_text, full_text=notice.text, details=details_line(notice))
                view.follow()
            case nt.ServiceError(message=text, code=code):
                await view.add_notice(f"Service error{f' ({code})' if code else ''}: {text}", "error")
            case nt.Info(message=text, level=level):
                await view.add_notice(text, level)
            case _:
                pass
