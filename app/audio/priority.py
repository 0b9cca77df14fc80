"""Real-time scheduling, where the OS allows it, for the threads a listener would hear waiting: the audio
callbacks, the device worker and the terminal's input thread (the interrupt key). Nothing else asks for it."""

from __future__ import annotations

import os

# SCHED_FIFO priority: above every normal thread, and below a sound server running at real-time priority
# (PulseAudio asks for 5, PipeWire for 20 or more), so these threads never hold up the server itself.
AUDIO_RT_PRIORITY = 3


def claim_realtime() -> bool:
    """Called once by each such thread (a new callback thread, the device worker, the input thread): run it
    at real-time priority where the OS allows (root, CAP_SYS_NICE or an rtprio limit); True if it now does.

    A callback that is not scheduled in time is a gap: at normal priority, on a loaded 2-core machine, the
    microphone's callbacks stopped for 50 ms and the speaker's underran while the UI, the terminal and the
    sound server took both cores; a device-queue drop (a duck, a flush) waited on the worker the same way.
    None of them spins, and what they do at this priority is short (a callback, a queue drop, parsing a key;
    the device worker lowers itself for opening and closing devices), so they cannot starve the rest.
    Linux applies this to the calling thread only, and a forked child does not inherit it.
    """
    return _set(getattr(os, "SCHED_FIFO", None), AUDIO_RT_PRIORITY)


def lower_to_normal() -> bool:
    """Back to normal scheduling for a long job (a thread may always lower itself); True if it did."""
    return _set(getattr(os, "SCHED_OTHER", None), 0)


def _set(policy: int | None, priority: int) -> bool:
    setter = getattr(os, "sched_setscheduler", None)
    if setter is None or policy is None:
        return False
    try:  # SCHED_RESET_ON_FORK is Linux's: a forked child starts at normal priority
        setter(0, policy | getattr(os, "SCHED_RESET_ON_FORK", 0), os.sched_param(priority))
    except OSError:  # not permitted: the thread runs at normal priority, as before
        return False
    return True
