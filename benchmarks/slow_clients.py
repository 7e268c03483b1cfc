"""How long an honest request waits while slow clients hold the demo tenant's connections.

Slowloris: N clients (default 512, the tenant's whole connection table) each open a TLS
connection, send a request line and then one header line every few seconds (default 7),
never finishing the request. Meanwhile an honest client sends a discovery GET on a fresh
connection every `--interval` seconds. Ours is its latency with the slow clients there; the
yardstick is the same request with no slow clients at all. The table also says how many
honest requests failed (must be 0) and how many slow connections the tenant cut off.

The demo tenant runs as its own process (`entra-cert-wizard emulator --json`), as a user
starts it. Bounded: `--seconds` (default 20) of load, all on loopback.

    uv run python benchmarks/slow_clients.py [--clients 512] [--line-every 7] [--seconds 20]

Prints a table, then one JSON document on the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import selectors
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
DISCOVERY = "/common/v2.0/.well-known/openid-configuration"


class SlowClients:
    """Connections that start and never finish, sending a little now and then.

    Two kinds: `connect` opens TLS connections that send a request line and then one header
    line per tick; `connect_handshakes` opens TCP connections that send a real TLS
    ClientHello one byte per tick (cheap to open by the hundred: no handshake is finished).
    """

    def __init__(
        self, host: str, port: int, ca_bundle: str, line_every: float, path: str = DISCOVERY
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self.line_every = line_every
        self._next_line = time.monotonic() + line_every
        self.context = ssl.create_default_context(cafile=ca_bundle)
        # Each open connection, with the ClientHello bytes it has still to send (None: TLS).
        self._pending: dict[socket.socket, bytes | None] = {}
        self.cut_off = 0  # connections the server closed
        self.refused = 0  # connections the server would not take
        self._selector = selectors.DefaultSelector()
        self._lines = 0

    @property
    def open(self) -> list[socket.socket]:
        return list(self._pending)

    def connect(self, count: int) -> None:
        """Open `count` TLS connections, each with a request line sent and no end."""
        for _ in range(count):
            self.trickle_if_due()  # the first ones keep sending while the rest connect
            try:
                raw = socket.create_connection((self.host, self.port), timeout=10)
                sock = self.context.wrap_socket(raw, server_hostname=self.host)
                sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n".encode())
            except (OSError, ssl.SSLError):
                self.refused += 1
                continue
            self._add(sock, None)

    def connect_handshakes(self, count: int) -> None:
        """Open `count` TCP connections, each starting a ClientHello that never ends."""
        hello = self._client_hello()
        for _ in range(count):
            try:
                sock = socket.create_connection((self.host, self.port), timeout=10)
                sock.sendall(hello[:1])
            except OSError:
                self.refused += 1
                continue
            self._add(sock, hello[1:])

    def _client_hello(self) -> bytes:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.context.wrap_bio(incoming, outgoing, server_hostname=self.host)
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.do_handshake()
        return outgoing.read()

    def _add(self, sock: socket.socket, pending: bytes | None) -> None:
        self._pending[sock] = pending
        self._selector.register(sock, selectors.EVENT_READ)

    def trickle_if_due(self) -> None:
        if time.monotonic() >= self._next_line:
            self._next_line += self.line_every
            self.trickle()

    def trickle(self) -> None:
        """A little more on every connection still open; count those the server closed."""
        self._lines += 1
        self.collect_closed()
        for sock, pending in list(self._pending.items()):
            try:
                if pending is None:
                    sock.sendall(f"X-Slow-{self._lines}: still sending\r\n".encode())
                elif pending:
                    sock.sendall(pending[:1])
                    self._pending[sock] = pending[1:]
            except (OSError, ssl.SSLError):
                self._forget(sock)

    def collect_closed(self) -> None:
        """Find the connections the server has closed (they read as end of file)."""
        for key, _ in self._selector.select(0):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            # Readable is not closed: TLS 1.3 session tickets arrive after the handshake.
            sock.settimeout(0.01)
            try:
                sock.recv(1)  # b"" (closed) or an answer such as a 408: either way it is over
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except (OSError, ssl.SSLError):
                pass
            finally:
                sock.settimeout(10)
            self._forget(sock)

    def _forget(self, sock: socket.socket) -> None:
        if sock in self._pending:
            del self._pending[sock]
            self.cut_off += 1
            self._selector.unregister(sock)
            sock.close()

    def close(self) -> None:
        for sock in self._pending:
            self._selector.unregister(sock)
            sock.close()
        self._pending.clear()
        self._selector.close()


def honest_request(session: requests.Session, url: str, timeout: float) -> float | None:
    """Seconds for one discovery GET on a fresh connection, or None if it failed."""
    session.close()  # a fresh connection every time, as a new client would open
    started = time.perf_counter()
    try:
        answer = session.get(url, timeout=timeout)
    except requests.RequestException:
        return None
    return time.perf_counter() - started if answer.status_code == 200 else None


def _start_tenant(state: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "emulator", "--json", "--state", str(state)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    line = process.stdout.readline() if process.stdout else ""
    if not line:
        raise SystemExit("the demo tenant did not start")
    return process, json.loads(line)


def _latencies(session: requests.Session, url: str, until: float, interval: float,
               slow: SlowClients | None) -> tuple[list[float], int]:
    samples: list[float] = []
    failures = 0
    while time.monotonic() < until:
        if slow is not None:
            slow.trickle_if_due()
        took = honest_request(session, url, timeout=3)
        if took is None:
            failures += 1
        else:
            samples.append(took)
        time.sleep(interval)
    return samples, failures


def measure(clients: int, line_every: float, seconds: float, interval: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        process, info = _start_tenant(Path(state))
        try:
            host, port = info["authority_host"].removeprefix("https://").rsplit(":", 1)
            session = requests.Session()
            session.verify, session.trust_env = info["ca_bundle"], False
            url = info["openid_configuration"]
            alone, alone_failures = _latencies(
                session, url, time.monotonic() + min(seconds, 5), interval, None
            )
            session.close()
            slow = SlowClients(host, int(port), info["ca_bundle"], line_every)
            opened = time.perf_counter()
            slow.connect(clients)
            opened = time.perf_counter() - opened
            loaded, failures = _latencies(
                session, url, time.monotonic() + seconds, interval, slow
            )
            slow.collect_closed()
            result = {
                "clients": clients,
                "line_every_s": line_every,
                "seconds": seconds,
                "open_slow_clients_s": round(opened, 2),
                "yardstick_median_s": statistics.median(alone) if alone else None,
                "ours_median_s": statistics.median(loaded) if loaded else None,
                "ours_max_s": max(loaded) if loaded else None,
                "honest_requests": len(loaded) + failures,
                "honest_failures": failures + alone_failures,
                "slow_refused": slow.refused,
                "slow_cut_off": slow.cut_off,
                "slow_still_open": len(slow.open),
            }
            slow.close()
            session.close()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
    if result["ours_median_s"] and result["yardstick_median_s"]:
        result["ratio"] = result["ours_median_s"] / result["yardstick_median_s"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=512)
    parser.add_argument("--line-every", type=float, default=7.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.25)
    args = parser.parse_args(argv)
    result = measure(args.clients, args.line_every, args.seconds, args.interval)
    for name, value in result.items():
        print(f"{name:22} {value:.4f}" if isinstance(value, float) else f"{name:22} {value}")
    print(json.dumps(result))
    return 0 if result["honest_failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
