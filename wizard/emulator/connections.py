"""The demo tenant's open connections: how many, whose, and how long each may wait.

A connection is either *waiting* (TLS handshake, idle keep-alive, or a request still
arriving) or *answering* (a whole request was read and its answer is being made). Two
rules keep a slow client from denying the rest:

- Every wait has one total deadline, however the bytes trickle in: a client sending one
  header line every few seconds is cut off when its deadline passes, not kept alive by
  each line it sends.
- A full table never turns away a new connection while an older one is only waiting: the
  connection that has waited longest is closed to make room. Only connections being
  answered are safe, so the table refuses a newcomer only when all of them are busy.

"Client" is the peer's address. On loopback every client, honest or not, is 127.0.0.1, so
a per-address cap alone would either starve the honest clients with the slow ones or cap
nothing; it is the eviction of the longest wait that protects them, and the per-address cap
(which matters when the tenant serves other machines) uses the same eviction.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("wizard.emulator")


@dataclass
class _Entry:
    client: str
    waiting_since: float | None  # None while the connection is being answered


class ConnectionTable:
    """The open connections, keyed by socket, under one lock (the accept loop and the
    connections' threads all use it)."""

    def __init__(
        self,
        limit: int,
        per_client: int,
        wait_deadline: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.per_client = per_client
        self.wait_deadline = wait_deadline
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[socket.socket, _Entry] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def admit(self, sock: socket.socket, client: str) -> bool:
        """Take a new connection in, making room if needed; False if every slot is busy."""
        with self._lock:
            own = [s for s, e in self._entries.items() if e.client == client]
            if len(own) >= self.per_client and not self._evict_longest_wait(own):
                return False
            if len(self._entries) >= self.limit and not self._evict_longest_wait(
                list(self._entries)
            ):
                return False
            self._entries[sock] = _Entry(client, self._clock())
            return True

    def answering(self, sock: socket.socket) -> None:
        """A whole request was read: this connection is busy, not waiting."""
        with self._lock:
            entry = self._entries.get(sock)
            if entry is not None:
                entry.waiting_since = None

    def waiting(self, sock: socket.socket) -> None:
        """The answer went out: the connection waits for its next request from now."""
        with self._lock:
            entry = self._entries.get(sock)
            if entry is not None:
                entry.waiting_since = self._clock()

    def release(self, sock: socket.socket) -> None:
        """The connection's thread is done; call before closing the socket."""
        with self._lock:
            self._entries.pop(sock, None)

    def reap(self) -> int:
        """Cut off every connection whose wait passed its deadline; how many were."""
        with self._lock:
            cutoff = self._clock() - self.wait_deadline
            late = [
                s
                for s, e in self._entries.items()
                if e.waiting_since is not None and e.waiting_since <= cutoff
            ]
            for sock in late:
                self._cut_off(sock, "its request did not arrive in time")
            return len(late)

    def _evict_longest_wait(self, candidates: list[socket.socket]) -> bool:
        waiting = [s for s in candidates if self._entries[s].waiting_since is not None]
        if not waiting:
            return False
        self._cut_off(
            min(waiting, key=lambda s: self._entries[s].waiting_since or 0.0),
            "the connection table is full and it waited longest",
        )
        return True

    def _cut_off(self, sock: socket.socket, reason: str) -> None:
        """Shut the socket down (its thread's blocked read returns) and free its slot.

        The lock is held: a socket still in the table has not been closed by its thread
        (release comes first), so its descriptor cannot belong to another connection yet.
        The plain socket's shutdown is used on purpose: TLS's own would reset the TLS state
        under the thread still reading it.
        """
        entry = self._entries.pop(sock)
        log.debug("closing a connection from %s: %s", entry.client, reason)
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
