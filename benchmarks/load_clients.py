"""Load clients cheap enough not to be the bottleneck: raw keep-alive HTTP/1.1 over ssl sockets.

Each client is a thread holding one TLS connection and one pre-built request (its own
pre-signed client assertion); the clients are spread over several processes so that one
GIL does not serialise them. A client's work per request is one `sendall` of fixed bytes and
a few `recv`s: no HTTP library, no form encoding, no JSON parsing (an answer counts when its
status is 200 and its body holds an access token). Each process reports the latencies it saw
and the CPU it spent between the start signal and its last answer, so the benchmark can show
that the clients used far less CPU than the server they measure.

Standard library only: the worker processes are started once with `spawn` (a clean
interpreter, whatever the parent holds) and reused for every level.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Any

MAX_HEAD = 64 * 1024
TIMEOUT = 30.0


@dataclass(frozen=True)
class Target:
    """Where the clients connect and what they trust."""

    host: str
    port: int
    server_name: str
    ca_file: str


@dataclass
class ProcessReport:
    latencies: list[float]
    failures: int
    cpu_seconds: float


def http_request(path: str, host_header: str, body: bytes) -> bytes:
    """One complete HTTP/1.1 POST of a form, as bytes sent unchanged on every request."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nAccept: application/json\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Connection:
    """One keep-alive TLS connection: send a request, read one whole answer."""

    def __init__(self, target: Target, context: ssl.SSLContext) -> None:
        raw = socket.create_connection((target.host, target.port), timeout=TIMEOUT)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname=target.server_name)
        self.open = True

    def exchange(self, request: bytes) -> bool:
        """True when the answer is a 200 carrying an access token."""
        self.sock.sendall(request)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = self.sock.recv(65536)
            if not chunk or len(buffer) > MAX_HEAD:
                self.open = False
                return False
            buffer += chunk
        head, _, body = buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                self.open = False
        while len(body) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.open = False
                return False
            body += chunk
        return head[9:12] == b"200" and b'"access_token"' in body

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@dataclass(frozen=True)
class _Job:
    target: Target
    requests: list[bytes]
    new_connections: bool
    max_requests: int


def _worker(commands: Connection, issued: Synchronized) -> None:  # type: ignore[type-arg]
    """A client process: runs the jobs it is sent until it is sent None."""
    while (job := commands.recv()) is not None:
        _run_job(job, commands, issued)


def _run_job(job: _Job, commands: Connection, issued: Synchronized) -> None:  # type: ignore[type-arg]
    """One thread per client (request), connected and warmed up before the process says
    ready; then the go signal with the deadline; then the process's report."""
    context = ssl.create_default_context(cafile=job.target.ca_file)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    connected = threading.Semaphore(0)
    go = threading.Event()
    deadline = 0.0  # set by the go signal

    def next_ticket() -> bool:
        if time.monotonic() >= deadline:
            return False
        with issued.get_lock():
            if issued.value >= job.max_requests:
                return False
            issued.value += 1
            return True

    def client(request: bytes) -> None:
        nonlocal failures
        mine: list[float] = []
        lost = 0
        connection: _Connection | None = None
        try:
            connection = _Connection(job.target, context)
            warmed_up = connection.exchange(request)  # connect + TLS before the clock
        except (OSError, ValueError):
            warmed_up = False
        connected.release()  # even when the warm-up failed, so the level never hangs
        go.wait()
        while warmed_up and next_ticket():
            started = time.perf_counter()
            try:
                if connection is None or job.new_connections or not connection.open:
                    if connection is not None:
                        connection.close()
                    connection = _Connection(job.target, context)
                ok = connection.exchange(request)
            except (OSError, ValueError):
                ok = False
                connection = None
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                lost += 1
        if connection is not None:
            connection.close()
        with lock:
            latencies.extend(mine)
            failures += lost + (0 if warmed_up else 1)

    threads = [threading.Thread(target=client, args=(r,)) for r in job.requests]
    for thread in threads:
        thread.start()
    for _ in threads:
        connected.acquire()
    commands.send("ready")
    deadline = commands.recv()
    cpu_started = time.process_time()
    go.set()
    for thread in threads:
        thread.join()
    commands.send(ProcessReport(latencies, failures, time.process_time() - cpu_started))


class ClientPool:
    """Client processes started once (`with ClientPool(2) as pool:`) and reused per level."""

    def __init__(self, processes: int = 2) -> None:
        spawn = multiprocessing.get_context("spawn")
        self._issued = spawn.Value("q", 0)
        self._workers: list[tuple[Any, Connection]] = []
        for _ in range(processes):
            ours, theirs = spawn.Pipe()
            process = spawn.Process(target=_worker, args=(theirs, self._issued), daemon=True)
            process.start()
            theirs.close()
            self._workers.append((process, ours))

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc: object) -> None:
        for process, commands in self._workers:
            with contextlib.suppress(OSError):
                commands.send(None)
            process.join(timeout=10)
            if process.is_alive():
                process.kill()

    def run(
        self,
        target: Target,
        requests: Sequence[bytes],
        seconds: float,
        max_requests: int,
        *,
        new_connections: bool = False,
        on_start: Callable[[], None] | None = None,
    ) -> tuple[list[float], int, float, float]:
        """Run len(requests) clients, spread over the processes, until the time or request
        bound. `on_start` is called once every client is connected and warmed up, just before
        the start signal (where the server's CPU count starts). Returns (latencies, failures,
        wall seconds from the start signal, client CPU seconds)."""
        with self._issued.get_lock():
            self._issued.value = 0
        count = len(self._workers)
        for index, (_, commands) in enumerate(self._workers):
            share = list(requests[index::count])
            commands.send(_Job(target, share, new_connections, max_requests))
        for _, commands in self._workers:
            if not commands.poll(120) or commands.recv() != "ready":
                raise RuntimeError("the load clients did not get ready")
        if on_start is not None:
            on_start()
        started = time.perf_counter()
        deadline = time.monotonic() + seconds
        for _, commands in self._workers:
            commands.send(deadline)
        reports: list[ProcessReport] = [commands.recv() for _, commands in self._workers]
        wall = time.perf_counter() - started
        latencies = [value for report in reports for value in report.latencies]
        failures = sum(report.failures for report in reports)
        return latencies, failures, wall, sum(report.cpu_seconds for report in reports)
