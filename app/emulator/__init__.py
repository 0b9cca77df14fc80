"""A local Voice Live server: the same protocol, an energy VAD, and replies that need no cloud.

Used by `voicelive-tui --local` (in-process, throwaway key), by `voicelive-tui serve`, and by the tests
and benchmarks. It replies to speech by playing the utterance back ("parrot": a mic check) and to typed
text with espeak-ng speech when installed, otherwise a tone.
"""

from app.emulator.server import EmulatorOptions, EmulatorServer

__all__ = ["EmulatorOptions", "EmulatorServer"]
