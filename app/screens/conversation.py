"""The main screen: status line, level meters, the conversation log, the prompt and the footer.

It shows what the session reports (its messages carry the whole state; nothing is read back from a
widget) and turns keys into commands on the session. It keeps the UI's mirror of the session's state —
desired configuration, mute, push-to-talk, the timeline — only to know what a key should ask for next.
"""

from __future__ import annotations

import asyncio
import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

from app.audio_control import AudioController
from app.hot_keys import HotKeys
from app.messages import (
    AudioModeChanged,
    ConfigStateChanged,
    ConnectionStateChanged,
    ConversationUpdated,
    EndpointResolved,
    MuteStateChanged,
    TalkStateChanged,
    TimelineUpdated,
    ToolApprovalChanged,
    ToolCallUpdated,
    UsageUpdated,
)
from app.presets import PresetBook
from app.protocol.changes import nudge
from app.protocol.session import SessionConfig, TurnDetection
from app.protocol.turn_labels import turn_key, turn_label
from app.screens.approvals import ApprovalQueue
from app.screens.conversation_view import show_in_log, show_timings
from app.screens.help import LONG, HelpScreen
from app.screens.presets import PresetsScreen
from app.screens.settings import SettingsSaver, SettingsScreen
from app.screens.talk_key import TalkKey
from app.voicelive import notices as nt
from app.voicelive.config_sync import ConfigChange
from app.voicelive.session_thread import SessionThread
from app.widgets.conversation_log import ConversationLog
from app.widgets.footer import KeyFooter
from app.widgets.level_meter import LevelMeter, LevelSource
from app.widgets.prompt import MessagePrompt
from app.widgets.status_bar import StatusBar, short_voice
from app.widgets.timeline_strip import TimelineStrip


class ConversationScreen(Screen[None]):
    BINDINGS = [
        Binding("m", "toggle_mute", "Mute", id="mute"),
        Binding("i", "interrupt", "Interrupt", id="interrupt"),  # in a terminal, acted on earlier: hot_keys.py
        Binding("t", "type_message", "Type", id="type"),
        Binding("s", "open_settings", "Settings", id="settings"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("left_square_bracket", "nudge_threshold(-0.05)", "Thr−", key_display="[", id="threshold-down"),
        Binding("right_square_bracket", "nudge_threshold(0.05)", "Thr+", key_display="]", id="threshold-up"),
        Binding("left_curly_bracket", "nudge_silence(-100)", "Sil−", key_display="{", id="silence-down"),
        Binding("right_curly_bracket", "nudge_silence(100)", "Sil+", key_display="}", id="silence-up"),
        Binding("space", "talk", "Talk", id="talk"),
        Binding("p", "presets", "Presets", show=False, id="presets"),
        Binding("d", "toggle_details", "Turn details", show=False, id="details"),
    ]

    def __init__(self, control: SessionThread, audio: AudioController, saver: SettingsSaver, book: PresetBook, *,
                 mic: LevelSource | None, speaker: LevelSource | None, hot_keys: HotKeys | None = None) -> None:
        super().__init__(id="conversation")
        self.control = control
        self.audio = audio
        self.saver = saver
        self.book = book
        self.desired: SessionConfig | None = None  # the session's desired configuration, as last reported
        self.muted = False
        self.push_to_talk = False
        self.talk_key = TalkKey()
        self._talk_timer: Timer | None = None
        self.timeline: nt.TimelineChanged | None = None
        self.status = StatusBar()
        self.mic_meter = LevelMeter("mic", mic, id="mic-meter")
        engine = audio.engine
        self.out_meter = LevelMeter("out", speaker, ducked=(lambda: engine.ducked) if engine else None, id="out-meter")
        self.strip = TimelineStrip()
        self.log_view = ConversationLog()
        self.prompt = MessagePrompt()
        self.approvals = ApprovalQueue(lambda: self.app, control.answer_approval)
        self.hot_keys = hot_keys

    def compose(self) -> ComposeResult:
        yield self.status
        with Horizontal(id="meters"):
            yield self.mic_meter
            yield self.out_meter
        yield self.strip
        yield self.log_view
        yield self.prompt
        yield KeyFooter(compact=True, show_command_palette=False)

    # ------------------------------------------------------------------ keys
    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The footer (and help) offer the talk key with push-to-talk, and the threshold and silence keys
        without it. The other mode's keys stay bound (`check_action` would silence them): pressed, they say
        why they do nothing."""
        off = ("nudge_threshold", "nudge_silence") if self.push_to_talk else ("talk",)
        return {key: active for key, active in super().active_bindings.items()
                if active.binding.action.partition("(")[0] not in off}

    def _arm_hot_keys(self, in_front: bool) -> None:
        """The interrupt key acts on the input thread only here, and not while a text field has focus."""
        if self.hot_keys is not None:
            self.hot_keys.armed = in_front and not isinstance(self.focused, Input)

    def on_screen_resume(self) -> None:
        self._arm_hot_keys(True)

    def on_screen_suspend(self) -> None:
        self._arm_hot_keys(False)

    def watch_focused(self) -> None:
        self._arm_hot_keys(self.is_current)

    def action_toggle_mute(self) -> None:
        self.control.set_muted(not self.muted)

    def action_interrupt(self) -> None:
        self.control.interrupt()

    def action_type_message(self) -> None:
        self._arm_hot_keys(False)  # now, not when the focus lands: the next key is a letter
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
            self.notify(outcome.reason, severity="warning", timeout=4, markup=False)

    def action_talk(self) -> None:
        """Space: tap to start, tap to send; held, it talks until released (see `TalkKey`)."""
        if not self.push_to_talk:
            self.control.talk_start()  # the session says how to switch push-to-talk on
            return
        press = self.talk_key.press(time.monotonic())
        if press == "start":
            self.control.talk_start()
        elif press == "hold":
            if self._talk_timer is not None:
                self._talk_timer.stop()
            self._talk_timer = self.set_timer(self.talk_key.repeat_gap_s, self._talk_due)

    def _talk_due(self) -> None:
        self._talk_timer = None
        if self.talk_key.due(time.monotonic()):
            self.control.talk_end()

    def action_presets(self, save_first: bool = False) -> None:
        timeline = self.timeline
        summaries = timeline.summaries if timeline else ()
        current = self.desired.turn_detection if self.desired else None
        self.app.push_screen(PresetsScreen(self.book, summaries=summaries, current_key=turn_key(current),
                                           current=current, use=self.use_turn_detection, save_first=save_first))

    def use_preset(self, name: str) -> None:
        self.use_turn_detection(self.book.presets[name].turn_detection)

    def use_turn_detection(self, td: TurnDetection | None) -> None:
        """Switch to a preset's turn detection; the status bar shows it pending until the service confirms."""
        self._request(lambda config: config.model_copy(update={"turn_detection": td}))
        self.notify(f"Turn detection: {self.book.name_for(turn_key(td)) or turn_label(td)}", timeout=2, markup=False)

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
        for off in self.BINDINGS:  # keys switched off in this mode (talk, or the nudges): listed, marked
            if isinstance(off, Binding) and off.id not in seen:
                mode = "with push-to-talk" if off.id == "talk" else "with turn detection on"
                rows.append((self.app.get_key_display(off), f"{LONG.get(off.id or '', off.description)} ({mode})"))
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
        self.status.vad = turn_label(td)
        self.status.pending = notice.pending
        self.mic_meter.threshold = td.threshold if td else None

    def on_talk_state_changed(self, message: TalkStateChanged) -> None:
        notice = message.notice
        if notice.push_to_talk != self.push_to_talk:
            self.push_to_talk = notice.push_to_talk
            self.refresh_bindings()
        if not notice.talking:
            self.talk_key.reset()
        self.status.talk = ("talking" if notice.talking else "idle") if notice.push_to_talk else ""
        self.mic_meter.talking = notice.talking if notice.push_to_talk else None

    async def on_timeline_updated(self, message: TimelineUpdated) -> None:
        notice = self.timeline = message.notice
        self.strip.show(notice.turns, notice.summaries, notice.current)
        await show_timings(self.log_view, notice.turns)
        screen = self.app.screen
        if isinstance(screen, PresetsScreen):
            screen.show(notice.summaries, notice.current, self.desired.turn_detection if self.desired else None)

    def on_usage_updated(self, message: UsageUpdated) -> None:
        self.status.tokens = message.notice.total.total

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
