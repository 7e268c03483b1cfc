"""Workshop mode without a browser: seats, join codes, seat tokens, scoped portal calls, the
trainer's rows and view, and a whole workshop process stopped with nothing left behind.

A real demo tenant (one per module, with its seats' apps), real files and real processes;
the attendee in the last test is the scripted web-socket client the load benchmark uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hostile_text import BEL, C1_CSI, CR, ESC_CSI, MARKUP_NAMES, RLO, raw_controls

from wizard.emulator import DemoTenant
from wizard.errors import UserError
from wizard.portal import PortalClient
from wizard.workshop.room import JoinRefused, Room
from wizard.workshop.roster import (
    build_rows,
    export_csv,
    export_markdown,
    stuck_longest_first,
)
from wizard.workshop.status import SeatStatus, read_status, write_status

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from screens.trainer import TrainerApp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CODE = "K7QM2X"
SEATS = 4


def workshop_args(folder: Path, **overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "seats": SEATS, "no_consent_seats": 1, "host": "127.0.0.1", "port": 0,
        "join_code": CODE, "no_join_code": False, "folder": str(folder), "json": True,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


@pytest.fixture(scope="module")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoTenant, Room]]:
    from wizard.commands.workshop import open_room

    tenant, room = open_room(workshop_args(tmp_path_factory.mktemp("workshop") / "room"), CODE)
    yield tenant, room
    tenant.stop()


@pytest.fixture
def room(workshop: tuple[DemoTenant, Room]) -> Iterator[Room]:
    """The module's room with every seat free again afterwards (its holders let go)."""
    _, shared = workshop
    yield Room(shared.folder)
    for holder in _holders:
        holder.leave()
    _holders.clear()
    for number in shared.claims():
        shared.free_seat(number)
    (shared.folder / "wrong_codes.json").unlink(missing_ok=True)


_holders: list[Room] = []


def window(room: Room) -> Room:
    """Another browser window's process: its own Room (its own seat lock)."""
    holder = Room(room.folder)
    _holders.append(holder)
    return holder


# ------------------------------------------------------------------ seats and joining
def test_each_seat_has_its_own_app_and_the_last_one_no_consent(
    workshop: tuple[DemoTenant, Room],
) -> None:
    tenant, room = workshop
    apps = room.seat_apps()
    assert [a.number for a in apps] == list(range(1, SEATS + 1))
    assert len({a.client_id for a in apps}) == SEATS
    assert [a.consented for a in apps] == [True, True, True, False]
    registered = {a["client_id"]: a["consented"] for a in tenant.directory.applications_json()}
    assert all(registered[a.client_id] == a.consented for a in apps)
    # The seats' file never holds the admin token; each seat's info carries its own token.
    record = (room.folder / "workshop.json").read_text()
    assert tenant.admin_token is not None and tenant.admin_token not in record
    info = room.seat_info(2)
    assert info.client_id == apps[1].client_id and info.admin_token == apps[1].portal_token


def test_a_wrong_join_code_gets_no_seat(room: Room) -> None:
    with pytest.raises(JoinRefused, match="not this workshop's"):
        room.join("WRONG1", "Mallory")
    assert room.claims() == {}


def test_joining_takes_the_next_free_seat_and_shows_a_token_once(room: Room) -> None:
    first = window(room).join(CODE.lower(), "Alice")  # case does not matter
    second = window(room).join(f" {CODE} ", "Bob")
    assert (first.number, second.number) == (1, 2)
    assert first.token and first.token.startswith("1-") and second.token
    # Only the token's hash is kept.
    assert first.token not in (room.folder / "claims.json").read_text()
    assert {n: c.name for n, c in room.claims().items()} == {1: "Alice", 2: "Bob"}
    with pytest.raises(JoinRefused, match="display name"):
        window(room).join(CODE, "   ")


def test_a_full_room_says_so(room: Room) -> None:
    holders = [window(room) for _ in range(SEATS)]
    for number, holder in enumerate(holders, start=1):
        assert holder.join(CODE, f"Attendee {number}").number == number
    with pytest.raises(JoinRefused, match="Every seat"):
        window(room).join(CODE, "Late")


def test_the_seat_token_gets_the_seat_back_only_once_the_old_window_is_gone(room: Room) -> None:
    first_window = window(room)
    claim = first_window.join(CODE, "Alice")
    assert claim.token is not None and room.is_live(claim.number)
    # A replayed token while the seat is open elsewhere cannot take it over.
    with pytest.raises(JoinRefused, match="open in another browser window"):
        window(room).join(CODE, token=claim.token)
    first_window.leave()  # the first window's process ends
    assert not room.is_live(claim.number)
    back = window(room).join(CODE, token=claim.token.lower().replace("-", " "))
    assert (back.number, back.name, back.token) == (claim.number, "Alice", None)


def test_forged_tokens_are_refused(room: Room) -> None:
    claim = window(room).join(CODE, "Alice")
    assert claim.token is not None
    secret = claim.token.split("-", 1)[1]
    for forged in ("1-AAAA-AAAA", f"2-{secret}", "1-", "../../1-ABCD-EFGH", "1-ABCD-EFGH\x1b[2J"):
        with pytest.raises(JoinRefused, match="not one this workshop gave out"):
            window(room).join(CODE, token=forged)
    with pytest.raises(JoinRefused, match="not this workshop's"):  # the code comes first
        window(room).join("WRONG1", token=claim.token)


def test_guessing_from_many_windows_pauses_the_room_then_it_takes_codes_again(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wizard.workshop import room as room_module

    monkeypatch.setattr(room_module, "WRONG_TRIES_PER_WINDOW", 4)
    monkeypatch.setattr(room_module, "WRONG_TRIES_WINDOW_SECONDS", 1.5)
    for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):  # each from a browser window of its own
        with pytest.raises(JoinRefused, match="not this workshop's"):
            window(room).join(guess, "Mallory")
    with pytest.raises(JoinRefused, match="not one this workshop gave out"):  # tokens count too
        window(room).join(CODE, token="1-ABCD-EFGH")
    # The ceiling is reached: no code is checked, not even the right one, for a while.
    with pytest.raises(JoinRefused, match=r"not taking join codes for [12] s") as refused:
        window(room).join(CODE, "Alice")
    assert "tell the trainer" in (refused.value.hint or "")
    assert room.claims() == {}
    assert room.wrong_tries().total == 4  # what the trainer's view shows
    time.sleep(1.6)
    assert window(room).join(CODE, "Alice").number == 1
    assert room.wrong_tries().total == 4


def test_the_join_code_is_random_enough() -> None:
    import math

    from wizard.workshop import room as room_module

    codes = {room_module.new_join_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 6 and set(c) <= set(room_module.CODE_ALPHABET) for c in codes)
    bits = room_module.JOIN_CODE_LENGTH * math.log2(len(room_module.CODE_ALPHABET))
    assert bits > 29  # with at most 30 wrong tries a minute: years of guessing


def test_a_seat_can_neither_read_nor_write_another_seats_folder(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    from screens.name import output_folder_problem
    from wizard import certs, storage
    from wizard.paths import CONFINE_ENV
    from wizard.resume import check_existing_set

    # Seat 2 made a certificate with no passphrase.
    generated = certs.generate_certificate("Seat2Cert", days=30, key_size=2048)
    theirs = storage.write_certificate_set(generated, "Seat2Cert",
                                           out_root=room.seat_home(2), passphrase=None)
    assert not isinstance(check_existing_set(theirs.files.folder, "Seat2Cert", None), str)
    # Seat 1's wizard, typing seat 2's folder (directly, or climbing out of its own).
    monkeypatch.setenv(CONFINE_ENV, str(room.seat_home(1)))
    for folder in (room.seat_home(2), room.seat_home(1) / ".." / ".." / "2" / "home"):
        assert "stay in the seat's own folder" in (output_folder_problem(str(folder)) or "")
        with pytest.raises(UserError, match="stay in the seat's own folder"):
            storage.check_name_is_free("Seat2Cert", out_root=folder)
    reused = check_existing_set(theirs.files.folder, "Seat2Cert", None)
    assert isinstance(reused, str) and "stay in the seat's own folder" in reused
    # Its own folder is fine.
    assert output_folder_problem(str(room.seat_home(1) / "certs")) is None
    storage.check_name_is_free("Mine", out_root=room.seat_home(1) / "certs")


# ------------------------------------------------------------------ scoped portal calls
def test_a_seat_reaches_only_its_own_app_on_the_portal(
    workshop: tuple[DemoTenant, Room], demo_certificate: object
) -> None:
    _, room = workshop
    mine, theirs = room.seat_info(1), room.seat_info(2)
    portal = PortalClient.for_demo(mine)
    assert [a["client_id"] for a in portal.list_applications()] == [mine.client_id]
    cert = demo_certificate("SeatOne")  # type: ignore[operator]
    with pytest.raises(UserError, match="only its own app registration"):
        portal.upload_certificate(theirs.client_id, cert.cert_pem)
    with pytest.raises(UserError, match="only its own app registration"):
        portal.set_consent(theirs.client_id, False)
    with pytest.raises(UserError, match="only its own app registration"):
        portal.set_fault({"kind": "slow", "seconds": 1})
    thumbprint = portal.upload_certificate(mine.client_id, cert.cert_pem)
    portal.delete_certificate(mine.client_id, thumbprint)
    # No token, or a made-up one: the portal asks for the admin token.
    for token in (None, "made-up"):
        with pytest.raises(UserError, match="admin token"):
            PortalClient.for_demo(replace(mine, admin_token=token)).list_applications()


# ------------------------------------------------------------------ options
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"host": "0.0.0.0", "no_join_code": True}, "needs a join code"),
        ({"seats": 0}, "--seats"),
        ({"no_consent_seats": 5}, "--no-consent-seats"),
        ({"join_code": "a b"}, "--join-code"),
    ],
)
def test_options_that_do_not_fit_are_usage_errors(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    from wizard.commands.workshop import _check

    with pytest.raises(UserError, match=message) as raised:
        _check(workshop_args(tmp_path, **overrides))
    assert raised.value.exit_code == 2


# ------------------------------------------------------------------ the trainer's rows
def test_rows_show_hostile_names_escaped_and_exports_are_safe(
    room: Room, workshop: tuple[DemoTenant, Room]
) -> None:
    tenant, _ = workshop
    names = [f"Eve{ESC_CSI}{BEL}{CR}{RLO}{C1_CSI}", MARKUP_NAMES[2], "=HYPERLINK(\"https://evil.example\")"]
    holders = [window(room) for _ in names]
    for holder, name in zip(holders, names, strict=True):
        holder.join(CODE, name)
    now = time.time()
    write_status(room.seat_dir(1), SeatStatus(step=7, step_title="Positive test",
                                              step_since=now - 300, generated=True,
                                              positive="fail", error_code="AADSTS700027",
                                              error_title="ignored: the catalogue words it"))
    write_status(room.seat_dir(2), SeatStatus(step=9, step_title="Summary", step_since=now - 900,
                                              positive="pass", negative="pass"))
    write_status(room.seat_dir(3), SeatStatus(step=3, step_title="Generate", step_since=now - 60))
    rows = build_rows(room, tenant.directory.applications_json(), now)
    for row in rows:
        assert not any(raw_controls(cell) for cell in row.cells())
    assert rows[0].error_code == "AADSTS700027" and "ignored" not in rows[0].error_line
    assert rows[0].error_line  # the catalogue's one line
    assert [r.seat for r in stuck_longest_first(rows)] == [1, 3, 2, 4]  # finished, then free
    csv_text = export_csv(rows)
    assert "'=HYPERLINK" in csv_text and not raw_controls(csv_text.replace("\n", ""))
    markdown = export_markdown(rows)
    assert "1 of 3 attendees finished" in markdown and not raw_controls(markdown.replace("\n", ""))


def test_a_status_file_that_is_not_one_is_ignored(room: Room) -> None:
    window(room).join(CODE, "Alice")
    status_path = room.seat_dir(1) / "status.json"
    for damaged in (b"not json", b"[1, 2]", b'{"nope": 1, "step": 2}'):
        status_path.write_bytes(damaged)
        status = read_status(room.seat_dir(1))
        assert status is None or status.step == 2
    status_path.unlink()
    os.mkfifo(status_path)  # a pipe is never waited on
    assert read_status(room.seat_dir(1)) is None
    status_path.unlink()


async def test_the_trainers_view_redraws_a_full_room_quickly(
    tmp_path: Path, workshop: tuple[DemoTenant, Room]
) -> None:
    from screens.seat_table import SeatTable
    from screens.trainer import TrainerApp
    from wizard.commands.workshop import open_room

    tenant, room = open_room(workshop_args(tmp_path / "big", seats=30, no_consent_seats=0), CODE)
    try:
        for guess in ("WRONG1", "WRONG2"):
            with pytest.raises(JoinRefused):
                window(room).join(guess, "Mallory")
        holders = [window(room) for _ in range(30)]
        for number, holder in enumerate(holders, start=1):
            holder.join(CODE, f"[b]Attendee[/b] {number}" if number == 5 else f"Attendee {number}")
            write_status(room.seat_dir(number), SeatStatus(step=1 + number % 9,
                                                           step_since=time.time() - number))
        app = TrainerApp(room, tenant, None, "http://127.0.0.1:8000", CODE, follow_room=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one("#seats", SeatTable)
            assert table.row_count == 30
            assert table.cells["5"][1] == "[b]Attendee[/b] 5"
            drawn = "\n".join(table.render_line(y).text for y in range(table.size.height))
            assert "[b]Attendee[/b] 5" in drawn  # shown as typed, not as markup
            assert table.order[0] == "30"  # the longest on its step first
            assert table.selected == "30"
            assert "30 of 30 seats taken" in app.shown_summary
            assert "2 wrong join codes" in app.shown_summary
            timings = []
            for _ in range(5):
                app.show_rows(app.rows)
                timings.append(app.last_redraw_ms)
            assert max(timings) < 200, timings
            app.query_one("#join-code")
            await pilot.press("e")
            assert (room.folder / "results.csv").is_file() and (room.folder / "results.md").is_file()
            # Reset the selected seat (the first row: seat 30), confirmed.
            await pilot.press("r")
            screen = app.screen
            from screens.dialogs import ConfirmScreen

            assert isinstance(screen, ConfirmScreen)
            screen.dismiss(True)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert 30 not in room.claims()
            await trainer_follows_a_change(app, room, pilot)
    finally:
        tenant.stop()


async def trainer_follows_a_change(app: TrainerApp, room: Room, pilot: Pilot[None]) -> None:
    """A seat moving on changes its own cells and the order, not the rest; the cursor stays on
    the seat it was on; with nothing changed, nothing is redrawn."""
    from screens.seat_table import SeatTable
    from wizard.workshop.roster import build_rows

    table = app.query_one("#seats", SeatTable)
    table.move_to("29")
    write_status(room.seat_dir(29), SeatStatus(step=4, step_title="Thumbprint",
                                               step_since=time.time()))
    now = time.time()
    before = dict(table.cells)
    app.show_rows(build_rows(room, [], now=now, statuses=app.statuses))
    assert table.cells["29"][2:4] == ("4 Thumbprint", "0s")
    assert all(table.cells[k][2] == before[k][2] for k in before if k != "29")
    assert table.order[28] == "29"  # the shortest on its step; the free seat 30 last
    assert app.selected_seat() == 29  # the cursor moved with its seat
    drawn = [table.render_line(y) for y in range(table.size.height)]
    assert "4 Thumbprint" in drawn[29].text
    # Nothing changed: every line is the one drawn before, not drawn again.
    app.show_rows(build_rows(room, [], now=now, statuses=app.statuses))
    assert all(table.render_line(y) is drawn[y] for y in range(table.size.height))
    table.focus()
    await pilot.press("up")
    assert app.selected_seat() == int(table.order[27])


# ------------------------------------------------------------------ the whole process
def _listening(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) == 0


def test_a_dropped_seat_comes_back_and_stopping_ends_every_seat_and_port(tmp_path: Path) -> None:
    from benchmarks.workshop_client import ENTER, SeatClient
    from wizard.commands.workshop_seat import SEAT_NICENESS

    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "workshop", "--seats", "2", "--port", "0", "--json",
         "--join-code", CODE, "--folder", str(tmp_path / "room")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )

    def stop_and_check(url: str, portal: str, pid: int) -> None:
        os.kill(pid, 0)  # the seat's wizard is alive, its browser still connected
        # It yields the CPU to the trainer's view and the web server.
        workshop_niceness = os.getpriority(os.PRIO_PROCESS, process.pid)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, workshop_niceness + SEAT_NICENESS)
        assert _listening(url) and _listening(portal)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not _listening(url) and not _listening(portal)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

    async def attend(line: dict[str, str]) -> None:
        folder = Path(line["folder"])
        first = SeatClient(line["url"], folder, "Alice", timeout=90)
        await first.connect()
        seat = await first.join(CODE)
        token = first.seat_token()
        await first.keys(ENTER)
        status = await first.wait_status(seat, lambda s: s.get("step") == 1, "Welcome")
        await first.close()  # the connection drops
        again = SeatClient(line["url"], folder, "Alice", timeout=90)
        try:
            await again.connect()
            assert await again.join(CODE, token=token) == seat
            await again.keys(ENTER)
            status = await again.wait_status(
                seat, lambda s: s.get("step") == 1 and s.get("pid") != status["pid"],
                "Welcome again",
            )
            await asyncio.to_thread(stop_and_check, line["url"], line["portal"], int(status["pid"]))
        finally:
            await again.close()

    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        assert set(line) >= {"url", "join_code", "seats", "tenant_id", "portal"}
        assert line["join_code"] == CODE and line["seats"] == 2
        assert line["url"].startswith("http://127.0.0.1:")
        asyncio.run(attend(line))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_killed_workshop_leaves_no_seat_process_behind(tmp_path: Path) -> None:
    from benchmarks.workshop_client import ENTER, SeatClient

    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "workshop", "--seats", "1", "--port", "0", "--json",
         "--join-code", CODE, "--folder", str(tmp_path / "room")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"

    async def attend(line: dict[str, str]) -> None:
        client = SeatClient(line["url"], Path(line["folder"]), "Alice", timeout=90)
        try:
            await client.connect()
            seat = await client.join(CODE)
            await client.keys(ENTER)
            status = await client.wait_status(seat, lambda s: s.get("step") == 1, "Welcome")
            process.kill()  # no chance to clean up: the seat must notice on its own
            process.wait()
            deadline = time.monotonic() + 20
            while not gone(int(status["pid"])):
                assert time.monotonic() < deadline, "the seat's wizard outlived its server"
                await asyncio.sleep(0.2)
        finally:
            await client.close()

    try:
        assert process.stdout is not None
        asyncio.run(attend(json.loads(process.stdout.readline())))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
