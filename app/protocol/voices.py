"""The voices the service documents, for the voice picker: Azure HD (DragonHD), Azure neural, OpenAI.

The HD list is the "Supported Azure Speech HD voices" table of Azure Speech's high-definition voices page
(learn.microsoft.com/azure/ai-services/speech-service/high-definition-voices, October 2025); the neural
voices are a selection of Azure's standard (and multilingual) neural voices, of which there are hundreds
more; the OpenAI names are those the session model accepts. Anything else — another neural voice, a
custom or personal voice — is typed as free text and judged by the same `Voice` model as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.protocol.session import OPENAI_VOICES, VoiceType


@dataclass(frozen=True)
class VoiceChoice:
    name: str
    type: VoiceType
    kind: str  # "HD", "neural", "OpenAI": shown next to the name
    note: str = ""

    def matches(self, words: list[str]) -> bool:
        text = f"{self.name} {self.kind} {self.note}".lower()
        return all(word in text for word in words)


_HD = (
    ("de-DE-Florian", "German, male"), ("de-DE-Seraphina", "German, female"), ("en-US-Adam", "male"),
    ("en-US-Alloy", "male, preview"), ("en-US-Andrew", "male"), ("en-US-Andrew2", "male, conversational"),
    ("en-US-Andrew3", "male, podcast, preview"), ("en-US-Aria", "female, preview"), ("en-US-Ava", "female"),
    ("en-US-Ava3", "female, podcast, preview"), ("en-US-Brian", "male"), ("en-US-Davis", "male"),
    ("en-US-Emma", "female"), ("en-US-Emma2", "female, conversational"), ("en-US-Jenny", "female, preview"),
    ("en-US-MultiTalker-Ava-Andrew", "two voices, preview"), ("en-US-Nova", "female, preview"),
    ("en-US-Phoebe", "female, preview"), ("en-US-Serena", "female, preview"), ("en-US-Steffan", "male"),
    ("es-ES-Tristan", "Spanish, male"), ("es-ES-Ximena", "Spanish, female"), ("fr-FR-Remy", "French, male"),
    ("fr-FR-Vivienne", "French, female"), ("ja-JP-Masaru", "Japanese, male"), ("ja-JP-Nanami", "Japanese, female"),
    ("zh-CN-Xiaochen", "Chinese, female"), ("zh-CN-Yunfan", "Chinese, male"),
)

_NEURAL = (
    ("en-US-AvaMultilingualNeural", "female, multilingual"), ("en-US-AndrewMultilingualNeural", "male, multilingual"),
    ("en-US-EmmaMultilingualNeural", "female, multilingual"), ("en-US-BrianMultilingualNeural", "male, multilingual"),
    ("en-US-AvaNeural", "female"), ("en-US-AndrewNeural", "male"), ("en-US-EmmaNeural", "female"),
    ("en-US-BrianNeural", "male"), ("en-US-JennyNeural", "female"), ("en-US-GuyNeural", "male"),
    ("en-US-AriaNeural", "female"), ("en-US-DavisNeural", "male"), ("en-GB-SoniaNeural", "British, female"),
    ("en-GB-RyanNeural", "British, male"), ("en-GB-AdaMultilingualNeural", "British, female, multilingual"),
    ("en-GB-OllieMultilingualNeural", "British, male, multilingual"), ("en-AU-NatashaNeural", "Australian, female"),
    ("en-IN-NeerjaNeural", "Indian English, female"), ("de-DE-SeraphinaMultilingualNeural", "German, female"),
    ("de-DE-FlorianMultilingualNeural", "German, male"), ("de-DE-KatjaNeural", "German, female"),
    ("fr-FR-VivienneMultilingualNeural", "French, female"), ("fr-FR-RemyMultilingualNeural", "French, male"),
    ("fr-FR-DeniseNeural", "French, female"), ("es-ES-XimenaMultilingualNeural", "Spanish, female"),
    ("es-ES-ElviraNeural", "Spanish, female"), ("es-MX-DaliaNeural", "Mexican Spanish, female"),
    ("it-IT-IsabellaNeural", "Italian, female"), ("pt-BR-FranciscaNeural", "Brazilian Portuguese, female"),
    ("ja-JP-NanamiNeural", "Japanese, female"), ("ko-KR-SunHiNeural", "Korean, female"),
    ("zh-CN-XiaoxiaoNeural", "Chinese, female"), ("zh-CN-YunxiNeural", "Chinese, male"),
    ("hi-IN-SwaraNeural", "Hindi, female"),
)

VOICES: tuple[VoiceChoice, ...] = (
    *(VoiceChoice(f"{persona}:DragonHDLatestNeural", "azure-standard", "HD", note) for persona, note in _HD),
    *(VoiceChoice(name, "azure-standard", "neural", note) for name, note in _NEURAL),
    *(VoiceChoice(name, "openai", "OpenAI") for name in OPENAI_VOICES),
)


def search(query: str) -> list[VoiceChoice]:
    """The voices whose name, kind or note contain every word of `query` (case-insensitive)."""
    words = query.lower().split()
    typed = query.strip().lower()
    found = [voice for voice in VOICES if voice.matches(words)]
    # The exact name first (alloy the OpenAI voice, not en-US-Alloy), then names that start with it.
    return sorted(found, key=lambda v: (v.name.lower() != typed, not v.name.lower().startswith(typed)))
