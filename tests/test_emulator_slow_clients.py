"""Slow clients (slowloris) never deny the demo tenant to the rest: every wait has one total
deadline, and a full connection table makes room by closing the connection waiting longest."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from test_emulator_helpers import session

from wizard.emulator import DemoInfo, DemoTenant, Fault, transport
from wizard.emulator.connections import ConnectionTable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.slow_clients import SlowClients  # noqa: E402


def _address(info: DemoInfo) -> tuple[str, int]:
    host, port = info.authority_host.removeprefix("https://").rsplit(":", 1)
    return host, int(port)


def _honest_ok(info: DemoInfo, timeout: float) -> float:
    """Seconds one discovery GET on a fresh connection took; fails the test if it failed."""
    started = time.perf_counter()
    answer = session(info).get(info.openid_configuration, timeout=timeout)
    assert answer.status_code == 200 and "token_endpoint" in answer.json()
    return time.perf_counter() - started


@pytest.fixture
def own_tenant(tmp_path: Path) -> Iterator[DemoTenant]:
    with DemoTenant(tmp_path / "state") as tenant:
        yield tenant


def test_honest_requests_are_answered_while_512_slow_clients_hold_every_connection(
    own_tenant: DemoTenant,
) -> None:
    info = own_tenant.info
    slow = SlowClients(*_address(info), info.ca_bundle, line_every=1.0)
    try:
        # 64 TLS connections trickling header lines, the rest trickling a ClientHello: 512 in
        # all, the whole connection table (opening 512 full TLS connections would take the
        # test's whole time budget on a busy 2-core machine).
        slow.connect(64)
        slow.connect_handshakes(transport.MAX_CONNECTIONS - 64)
        assert slow.refused == 0 and len(slow.open) == transport.MAX_CONNECTIONS
        slow.trickle()
        for _ in range(5):
            assert _honest_ok(info, timeout=5) < 5
            slow.trickle()
        slow.collect_closed()
        # Each honest connection took the place of one slow connection, no more.
        assert len(slow.open) >= transport.MAX_CONNECTIONS - 5
    finally:
        slow.close()


def test_a_request_trickling_in_is_cut_off_at_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "REQUEST_DEADLINE", 2.0)
    with DemoTenant(tmp_path / "state") as tenant:
        info = tenant.info
        slow = SlowClients(*_address(info), info.ca_bundle, line_every=0.3)
        try:
            slow.connect(3)
            slow.connect_handshakes(3)
            started = time.monotonic()
            # A line every 0.3 s: far inside the per-read timeout, so only a total deadline ends them.
            while slow.open and time.monotonic() - started < 8:
                slow.trickle()
                time.sleep(0.3)
            assert not slow.open, "slow requests outlived their deadline"
            # Cut off after the deadline, within the accept loop's check interval (+ slack).
            assert 2.0 <= time.monotonic() - started < 2.0 + transport.IDLE_CHECK_SECONDS + 2.5
            assert slow.cut_off == 6
            _honest_ok(info, timeout=5)
        finally:
            slow.close()


def test_connections_being_answered_are_never_closed_for_a_newcomer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "MAX_CONNECTIONS", 2)
    monkeypatch.setattr(transport, "MAX_CONNECTIONS_PER_CLIENT", 2)
    with DemoTenant(tmp_path / "busy") as tenant:
        info = tenant.info
        tenant.set_fault(Fault("delay", endpoint="discovery", seconds=1.5, count=2))
        answers: list[int] = []

        def slow_answer() -> None:
            answers.append(session(info).get(info.openid_configuration, timeout=10).status_code)

        busy = [threading.Thread(target=slow_answer) for _ in range(2)]
        for thread in busy:
            thread.start()
        time.sleep(0.7)  # both requests are being answered (delayed) now
        with pytest.raises(requests.exceptions.ConnectionError):
            session(info).get(info.openid_configuration, timeout=5)
        for thread in busy:
            thread.join(10)
        assert answers == [200, 200]
        _honest_ok(info, timeout=5)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _pair() -> tuple[socket.socket, socket.socket]:
    server_end, client_end = socket.socketpair()
    client_end.settimeout(1)
    return server_end, client_end


def test_the_per_client_cap_closes_that_clients_longest_wait_only() -> None:
    clock = _Clock()
    table = ConnectionTable(limit=10, per_client=2, wait_deadline=15, clock=clock)
    pairs = [_pair() for _ in range(4)]
    try:
        (other, other_peer), (first, first_peer), (second, _), (third, _) = pairs
        assert table.admit(other, "192.0.2.9")
        for sock in (first, second):
            clock.now += 1
            assert table.admit(sock, "192.0.2.1")
        clock.now += 1
        assert table.admit(third, "192.0.2.1")  # the client's third: its first one goes
        assert first_peer.recv(1) == b""
        other_peer.settimeout(0.05)
        with pytest.raises(TimeoutError):  # another client's older connection is untouched
            other_peer.recv(1)
        assert len(table) == 3
        table.answering(second)
        table.answering(third)
        with socket.socket() as newcomer:
            assert not table.admit(newcomer, "192.0.2.1")  # both busy: refused
    finally:
        for pair in pairs:
            for end in pair:
                end.close()


def test_reaping_ends_overdue_waits_but_never_an_answer_in_progress() -> None:
    clock = _Clock()
    table = ConnectionTable(limit=10, per_client=10, wait_deadline=15, clock=clock)
    (idle, idle_peer), (busy, busy_peer) = pairs = [_pair(), _pair()]
    try:
        table.admit(idle, "127.0.0.1")
        table.admit(busy, "127.0.0.1")
        table.answering(busy)
        clock.now = 14.9
        assert table.reap() == 0
        clock.now = 15.0
        assert table.reap() == 1
        assert idle_peer.recv(1) == b""
        clock.now = 100.0
        assert table.reap() == 0  # still being answered
        table.waiting(busy)  # the answer went out: its deadline starts now
        clock.now = 114.0
        assert table.reap() == 0
        busy_peer.settimeout(0.05)
        with pytest.raises(TimeoutError):
            busy_peer.recv(1)
    finally:
        for pair in pairs:
            for end in pair:
                end.close()
