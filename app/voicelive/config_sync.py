"""The session's configuration as two values, desired and confirmed, kept in step with the service.

Every change composes on the *desired* configuration (the last one asked for), never on the confirmed
one: four quick presses of `]` must end four steps up, even though the service has confirmed none of
them yet. At most one `session.update` is in flight; changes made meanwhile coalesce into the next one,
so holding a key sweeps smoothly and ends exactly where the user stopped. `session.updated` confirms
what was in flight; a refusal rolls the desired configuration back to the confirmed one and says why.

A new connection starts from the service's defaults, so its first frame is always the desired
configuration, whatever was confirmed on the connection before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from app.protocol.session import SessionConfig

log = logging.getLogger(__name__)

ConfigChange = Callable[[SessionConfig], SessionConfig]
"""A change to a configuration: given the desired one, return the next desired one."""


@dataclass(frozen=True)
class ConfigOutcome:
    """How a requested change ended: confirmed by the service, or refused (with its reason)."""

    applied: bool
    confirmed: SessionConfig | None
    reason: str | None = None
    queued: bool = False  # not connected: it is the desired configuration, sent first when connected


class ConfigSync:
    """Desired vs confirmed configuration; one `session.update` in flight at a time.

    `send(config)` queues a `session.update` and returns its event id; `changed()` is called whenever
    desired, confirmed or the in-flight state moves, so the owner can tell the UI.
    """

    def __init__(self, config: SessionConfig, *, send: Callable[[SessionConfig], str],
                 changed: Callable[[], None]) -> None:
        self.desired = config
        self.confirmed: SessionConfig | None = None
        self.updates_sent = 0
        self._send = send
        self._changed = changed
        self._connected = False
        self._in_flight: tuple[str, SessionConfig] | None = None
        self._waiting_unsent: list[Future[ConfigOutcome]] = []
        self._waiting_in_flight: list[Future[ConfigOutcome]] = []

    @property
    def pending(self) -> bool:
        """A change is in flight or waiting to be sent: the desired value is not (yet) the live one."""
        return self._in_flight is not None or self.desired != self.confirmed

    @property
    def in_flight_id(self) -> str | None:
        return self._in_flight[0] if self._in_flight else None

    # ------------------------------------------------------------------ commands
    def request(self, change: ConfigChange) -> Future[ConfigOutcome]:
        """Apply `change` to the desired configuration; the future resolves when the service decides.

        A change that cannot build a valid configuration is refused at once (the service never sees it).
        """
        future: Future[ConfigOutcome] = Future()
        try:
            desired = change(self.desired)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            future.set_result(ConfigOutcome(False, self.confirmed, str(exc)))
            return future
        self.desired = desired
        if self._connected:
            self._waiting_unsent.append(future)
            self._pump()
        else:
            future.set_result(ConfigOutcome(False, self.confirmed, queued=True))
        self._changed()
        return future

    # ------------------------------------------------------------------ the connection's life
    def connected(self) -> None:
        """A new connection: its service has its own defaults, so send the desired configuration first."""
        self._connected = True
        self.confirmed = None
        if self._in_flight is not None:  # lost with the old connection: those changes wait for this one
            self._waiting_unsent[:0] = self._waiting_in_flight
            self._waiting_in_flight = []
            self._in_flight = None
        self._send_desired()
        self._changed()

    def disconnected(self) -> None:
        self._connected = False

    def updated(self, event_id: str | None) -> None:
        """`session.updated`: whatever was in flight is live now (services need not echo our event id)."""
        if self._in_flight is None:
            return
        sent_id, config = self._in_flight
        if event_id is not None and event_id != sent_id:
            log.debug("session.updated for %s while %s is in flight", event_id, sent_id)
        self._in_flight = None
        self.confirmed = config
        self._resolve(self._waiting_in_flight, ConfigOutcome(True, config))
        self._pump()
        self._changed()

    def refused(self, event_id: str | None, reason: str) -> bool:
        """An `error` for the update in flight: roll back to the confirmed configuration. True if it was ours."""
        if self._in_flight is None or (event_id is not None and event_id != self._in_flight[0]):
            return False
        self._in_flight = None
        if self.confirmed is not None:
            self.desired = self.confirmed  # changes made on top of the refused one go with it
        outcome = ConfigOutcome(False, self.confirmed, reason)
        self._resolve(self._waiting_in_flight + self._waiting_unsent, outcome)
        self._waiting_in_flight, self._waiting_unsent = [], []
        self._changed()
        return True

    # ------------------------------------------------------------------ internals
    def _pump(self) -> None:
        """Send the desired configuration if it differs from the confirmed one and nothing is in flight."""
        if not self._connected or self._in_flight is not None:
            return
        if self.desired == self.confirmed:
            self._resolve(self._waiting_unsent, ConfigOutcome(True, self.confirmed))
            self._waiting_unsent = []
            return
        self._send_desired()

    def _send_desired(self) -> None:
        event_id = self._send(self.desired)
        self.updates_sent += 1
        self._in_flight = (event_id, self.desired)
        self._waiting_in_flight += self._waiting_unsent
        self._waiting_unsent = []

    @staticmethod
    def _resolve(futures: list[Future[ConfigOutcome]], outcome: ConfigOutcome) -> None:
        for future in futures:
            if not future.done():
                future.set_result(outcome)
        futures.clear()
