"""The main screen: status line, level meters, the conversation log, the prompt and the footer.

It shows what the session reports (its messages carry the whole state; nothing is read back from a
widget) and turns keys into commands on the session. It keeps the UI's mirror of the session's state —
desired configuration, mute — only to know what a key should ask for next.
"""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from app.audio_control import AudioController
from app.messages import (
    AudioModeChanged,
    ConfigStateChanged,
    ConnectionStateChanged,
    ConversationUpdated,
    EndpointResolved,
    MuteStateChanged,
    ToolApprovalChanged,
    ToolCallUpdated,
)
from app.protocol.changes import nudge
from app.protocol.session import SessionConfig
from app.screens.approvals import ApprovalQueue
from app.screens.conversation_view import show_in_log
from app.screens.help import LONG, HelpScreen
from app.screens.settings import SettingsSaver, SettingsScreen
from app.voicelive import notices as nt
from app.voicelive.config_sync import ConfigChange
from app.voicelive.session_thread import SessionThread
from app.widgets.conversation_log import ConversationLog
from app.widgets.level_meter import LevelMeter, LevelSource
from app.widgets.prompt import MessagePrompt
from app.widgets.status_bar import StatusBar, short_vad, short_voice


class ConversationScreen(Screen[None]):
    BINDINGS = [
        Binding("m", "toggle_mute", "Mute", id="mute"),
        Binding("i", "interrupt", "Interrupt", id="interrupt"),
        Binding("t", "type_message", "Type", id="type"),
        Binding("s", "open_settings", "Settings", id="settings"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("left_square_bracket", "nudge_threshold(-0.05)", "Thr−", key_display="[", id="threshold-down"),
        Binding("right_square_bracket", "nudge_threshold(0.05)", "Thr+", key_display="]", id="threshold-up"),
        Binding("left_curly_bracket", "nudge_silence(-100)", "Sil−", key_display="{", id="silence-down"),
        Binding("right_curly_bracket", "nudge_silence(100)", "Sil+", key_display="}", id="silence-up"),
        Binding("d", "toggle_details", "Turn details", show=False, id="details"),
    ]

    def __init__(self, control: SessionThread, audio: AudioController, saver: SettingsSaver, *,
                 mic: LevelSource | None, speaker: LevelSource | None) -> None:
        super().__init__(id="conversation")
        self.control = control
        self.audio = audio
        self.saver = saver
        self.desired: SessionConfig | None = None  # the session's desired configuration, as last reported
        self.muted = False
        self.status = StatusBar()
        self.mic_meter = LevelMeter("mic", mic, id="mic-meter")
        self.out_meter = LevelMeter("out", speaker, id="out-meter")
        self.log_view = ConversationLog()
        self.prompt = MessagePrompt()
        self.approvals = ApprovalQueue(lambda: self.app, control.answer_approval)

    def compose(self) -> ComposeResult:
        yield self.status
        with Horizontal(id="meters"):
            yield self.mic_meter
            yield self.out_meter
        yield self.log_view
        yield self.prompt
        yield Footer(compact=True, show_command_palette=False)

    # ------------------------------------------------------------------ keys
    def action_toggle_mute(self) -> None:
        self.control.set_muted(not self.muted)

    def action_interrupt(self) -> None:
        self.control.interrupt()

    def action_type_message(self) -> None:
        self.prompt.add_class("-visible")
        self.prompt.focus()

    def on_message_prompt_sent(self, message: MessagePrompt.Sent) -> None:
        self.control.send_text(message.text)

    def on_message_prompt_left(self, message: MessagePrompt.Left) -> None:
        self.prompt.remove_class("-visible")
        self.prompt.value = ""
        self.set_focus(None)

    def action_toggle_details(self) -> None:
        self.log_view.toggle_class("-details")

    def action_nudge_threshold(self, delta: float) -> None:
        self._request(nudge("threshold", delta, 0.0, 1.0))

    def action_nudge_silence(self, delta: int) -> None:
        self._request(nudge("silence_duration_ms", delta, 0, 10000))

    @work(group="config-request")
    async def _request(self, change: ConfigChange) -> None:
        """The status bar shows the requested value at once; only a refusal needs words here."""
        outcome = await asyncio.wrap_future(self.control.request(change))
        if not outcome.applied and outcome.reason and not outcome.queued:
            self.notify(outcome.reason, severity="warning", timeout=4)

    def action_open_settings(self) -> None:
        if self.desired is None:
            self.notify("The session is still starting; try again in a moment.", severity="warning")
            return
        self.app.push_screen(SettingsScreen(self.control, self.audio, self.saver, self.desired))

    def action_help(self) -> None:
        rows: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in self.active_bindings.values():
            binding = active.binding
            if binding.id is None or binding.id in seen:  # Textual's own scrolling keys are not ours to list
                continue
            seen.add(binding.id)
            description = LONG.get(binding.id, binding.description or binding.action)
            rows.append((self.app.get_key_display(binding), description))
        rows += [("escape", "Leave the message prompt"), ("tab, enter", "Focus a tool call; open or close it"),
                 ("y / n", "Approve or deny a tool call (when asked)"),
                 ("ctrl+p", "Command palette: every action, theme, export")]
        self.app.push_screen(HelpScreen(rows))

    # ------------------------------------------------------------------ what the session reports
    async def on_connection_state_changed(self, message: ConnectionStateChanged) -> None:
        notice = message.notice
        self.status.state, self.status.detail, self.status.attempt = notice.state, notice.detail, notice.attempt
        if notice.state in ("failed", "closed") and notice.detail:
            await self.log_view.add_notice(notice.detail, "error")

    def on_config_state_changed(self, message: ConfigStateChanged) -> None:
        notice = message.notice
        self.desired = config = notice.desired
        self.status.voice = short_voice(config.voice.name)
        td = config.turn_detection
        self.status.vad = f"{short_vad(td.type)} {td.threshold:.2f} {td.silence_duration_ms}ms" if td else "VAD off"
        self.status.pending = notice.pending
        self.mic_meter.threshold = td.threshold if td else None

    def on_mute_state_changed(self, message: MuteStateChanged) -> None:
        self.muted = self.status.muted = self.mic_meter.muted = message.notice.muted

    @on(ConversationUpdated)
    async def _conversation_updated(self, message: ConversationUpdated) -> None:
        if isinstance(message.notice, nt.SessionStarted) and message.notice.agent:
            self.status.agent = message.notice.agent  # the name the service confirms
        await show_in_log(self.log_view, self.mic_meter, message.notice)

    async def on_tool_call_updated(self, message: ToolCallUpdated) -> None:
        await self.log_view.show_tool_call(message.notice.state)
        self.log_view.follow()

    def on_tool_approval_changed(self, message: ToolApprovalChanged) -> None:
        notice = message.notice
        if isinstance(notice, nt.ToolApprovalRequested):
            self.approvals.ask(notice.request)
        else:
            self.approvals.withdraw(notice.request_id)

    def on_endpoint_resolved(self, message: EndpointResolved) -> None:
        self.status.host, self.status.local, self.status.model = message.host, message.local, message.model
        self.status.source = "" if message.local else message.source
        self.status.agent = message.agent or ""

    async def on_audio_mode_changed(self, message: AudioModeChanged) -> None:
        if message.reason:
            self.status.audio = "text mode"
            await self.log_view.add_notice(message.reason, "warning")
        elif not message.notes:
            self.status.audio = "audio"
        for note in message.notes:
            await self.log_view.add_notice(note)
