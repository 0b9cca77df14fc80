"""How each conversation notice appears: turns, streaming text, speech, errors, notes, turn timings."""

from __future__ import annotations

from app.voicelive import notices as nt
from app.voicelive.timeline import TurnTiming
from app.widgets.conversation_log import ConversationLog
from app.widgets.level_meter import LevelMeter


def details_line(notice: nt.AssistantTurnEnded) -> str:
    parts = []
    if notice.first_audio_ms is not None:
        parts.append(f"first audio {notice.first_audio_ms} ms after your turn")
    if notice.audio_ms:
        parts.append(f"{notice.audio_ms / 1000:.1f} s of audio")
    if notice.interrupted_at_ms is not None:
        parts.append(f"interrupted at {notice.interrupted_at_ms / 1000:.2f} s")
    if notice.usage is not None:
        parts.append(notice.usage.describe())
    return " · ".join(parts) or "no audio"


async def show_timings(view: ConversationLog, turns: tuple[TurnTiming, ...]) -> None:
    """Each reply's turn timeline goes under it, with the other details (shown with `d`)."""
    for timing in turns:
        reply = view.assistant_turn(timing.reply_item) if timing.reply_item else None
        if reply is not None:
            await reply.set_timing(timing.describe())


async def show_in_log(view: ConversationLog, mic: LevelMeter, notice: nt.Notice) -> None:
    match notice:
        case nt.SessionRejected(message=text, param=param):
            await view.add_notice(f"Settings rejected{f' ({param})' if param else ''}: {text}", "error")
        case nt.SpeechStarted():
            mic.speaking = True
        case nt.SpeechStopped():
            mic.speaking = False
        case nt.UserTurnAdded(item_id=item_id, text=text):
            await view.add_user(item_id, text, typed=text is not None)
        case nt.UserTranscribed(item_id=item_id, text=text, final=final, failed=failed):
            user_turn = view.user_turn(item_id) or await view.add_user(item_id, None)
            shown = f"(transcription failed: {text})" if failed else text
            user_turn.set_text(shown, final=final, failed=failed)
            view.follow()
        case nt.AssistantTurnStarted(item_id=item_id, response_id=response_id):
            await view.add_assistant(item_id, response_id)
            view.follow()
        case nt.AssistantTextDelta(item_id=item_id, delta=delta):
            reply = view.assistant_turn(item_id) or await view.add_assistant(item_id)
            await reply.append(delta)
            view.follow()
        case nt.AssistantTurnEnded():
            reply = view.assistant_turn(notice.item_id) or await view.add_assistant(notice.item_id)
            await reply.finish(status=notice.status, interrupted_at_ms=notice.interrupted_at_ms,
                               heard_text=notice.heard_text, full_text=notice.text, details=details_line(notice))
            view.follow()
        case nt.ServiceError(message=text, code=code, repeats=repeats):
            line = f"Service error{f' ({code})' if code else ''}: {text}"
            if repeats > 1:
                await view.repeat_notice(line, repeats)
            else:
                await view.add_notice(line, "error")
        case nt.Info(message=text, level=level):
            await view.add_notice(text, level)
        case _:
            pass
