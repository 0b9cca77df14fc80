"""Real-time scheduling, where the OS allows it, for the threads a listener would hear waiting: the audio
callbacks, the device worker and the terminal's input thread (the interrupt key). Nothing else asks for it."""

from __future__ import annotations

import os

# SCHED_FIFO priority of the audio threads: above every normal thread, below the sound server's
# own (PulseAudio asks for 5, PipeWire for 20 or more), so they never hold up the server itself.
AUDIO_RT_PRIORITY = 3


def claim_realtime() -> bool:
    """Called once by each such thread (a new callback thread, the device worker, the input thread): run it
    at real-time priority where the OS allows (root, CAP_SYS_NICE or an rtprio limit); True if it now does.

    A callback that is not scheduled in time is a gap: at normal priority, on a loaded 2-core machine, the
    microphone's callbacks stopped for 50 ms and the speaker's underran while the UI, the terminal and the
    sound server took both cores; a device-queue drop (a duck, a flush) waited on the worker the same way.
    Each wake-up of these threads is short and none of them spins, so they cannot starve the rest. Linux
    applies this to the calling thread only, and a forked child does not inherit it.
    """
    setter = getattr(os, "sched_setscheduler", None)
    if setter is None:
        return False
    try:
        setter(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(AUDIO_RT_PRIORITY))
    except OSError:  # not permitted: the thread runs at normal priority, as before
        return False
    return True
