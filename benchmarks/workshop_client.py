"""A scripted attendee: speaks textual-serve's web-socket protocol like the page in a browser.

It sends keys (["stdin", text]) and the terminal size (["resize", ...]) and reads the screen
back, as a person at the page does: the seat's status file (the record the trainer's view
reads too) says which step is open and when its work is done; the screen says the step is
drawn, has stopped changing (focus has landed), and what the footer says Enter will do. Only
then is the next key sent; a button other than Next is tabbed past (Enter never lands on a
Copy button), and a step that does not move on is tried again a bounded number of times.
Used by the load benchmark and the workshop tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ENTER = "\r"
TAB = "\t"
ESCAPE = "\x1b"
CTRL_F = "\x06"
RETRIES = 4
NEXT_LABELS = {1: "Start", 9: "Finish"}  # the footer's "⏎ …" for Next, where not "Next"
STEP_WAIT = 15.0  # seconds a step may take to move on after its Enter
FOOTER_ENTER = re.compile(r"⏎ ([^\s▏]+(?: [^\s▏]+)*)")
PASSPHRASE = "Workshop-Passphrase-42"
KEEP = 400_000
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]")


@dataclass
class SeatRun:
    """What one attendee's run measured."""

    name: str
    seat: int | None = None
    join_seconds: float | None = None
    flow_seconds: float | None = None
    finished: bool = False
    error: str = ""
    steps: list[tuple[int, float]] = field(default_factory=list)


class SeatClient:
    """One browser session: connect, join, walk the demo flow by keys."""

    def __init__(self, url: str, folder: Path, name: str, *, timeout: float = 120) -> None:
        self.url = url.rstrip("/")
        self.folder = folder
        self.name = name
        self.timeout = timeout
        self.screen_text = ""
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.session: aiohttp.ClientSession | None = None
        self._reader: asyncio.Task[None] | None = None
        self.received = 0  # characters of screen text received so far
        self.last_output = time.monotonic()
        self.step_marks: dict[int, int] = {}
        self.key_mark = 0  # `received` when the last key was sent
        self.tab_retries = 0  # Tabs that did not move on from the join code (counted)

    async def connect(self, width: int = 100, height: int = 36) -> None:
        self.session = aiohttp.ClientSession()
        self.socket = await self.session.ws_connect(
            f"{self.url}/ws?width={width}&height={height}", heartbeat=15
        )
        await self.socket.send_str(json.dumps(["resize", {"width": width, "height": height}]))
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.socket is not None
        async for message in self.socket:
            if message.type == aiohttp.WSMsgType.BINARY:
                text = ANSI.sub("", message.data.decode("utf-8", "replace"))
                self.received += len(text)
                self.last_output = time.monotonic()
                self.screen_text = (self.screen_text + text)[-KEEP:]
            elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.session is not None:
            await self.session.close()

    async def keys(self, text: str) -> None:
        """Type `text`; Tab and Enter go as keys of their own, as a browser's terminal sends them."""
        assert self.socket is not None
        self.key_mark = self.received
        for part in re.split(r"([\t\r])", text):
            if part:
                await self.socket.send_str(json.dumps(["stdin", part]))
                if part in (TAB, ENTER):
                    # Keys are handed to the focused widget before a Tab's focus move is
                    # done: a pause lets the move land first, as a person's typing does.
                    await asyncio.sleep(0.5)

    def since(self, mark: int) -> str:
        """The screen text received after `mark` (as much of it as is kept)."""
        return self.screen_text[-max(0, self.received - mark):] if self.received > mark else ""

    def tail(self, size: int = 600) -> str:
        return re.sub(r"\s+", " ", self.screen_text[-size * 4:])[-size:]

    def enter_label(self, since: int = 0) -> str | None:
        """What the footer last said Enter does ("Next", "Fill from demo", "Press", ...)."""
        found = FOOTER_ENTER.findall(self.since(since))
        return found[-1].split("  ")[0] if found else None

    async def settle(self, quiet: float = 0.3, most: float = 3.0) -> None:
        """Wait until the screen stops changing (a focus move, a redraw) for `quiet` seconds,
        at most `most`: what a person waits for before the next key."""
        started = time.monotonic()
        await asyncio.sleep(quiet)
        while time.monotonic() - self.last_output < quiet and time.monotonic() - started < most:
            await asyncio.sleep(0.05)

    async def wait_for_text(self, text: str, timeout: float | None = None,
                            since: int = 0) -> None:
        deadline = time.monotonic() + (timeout or self.timeout)
        while text not in self.since(since):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: '{text}' never appeared")
            await asyncio.sleep(0.1)

    def status(self, seat: int) -> dict[str, Any]:
        try:
            return dict(json.loads((self.folder / "seats" / str(seat) / "status.json").read_text()))
        except (OSError, ValueError):
            return {}

    async def wait_status(self, seat: int, ready: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            status = self.status(seat)
            if status and ready(status):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: seat {seat} never reached {what} ({status})")
            await asyncio.sleep(0.1)

    async def send_focus(self) -> None:
        """Say the page's terminal has focus, as the page does when its terminal takes it.

        Textual's web driver starts the app blurred: that takes the focus from a field that
        already had it (when the first screen was quicker: Textual runs its tasks eagerly on
        Python 3.12+), and gives it back when the page says it has focus, or a key comes."""
        assert self.socket is not None
        await self.socket.send_str(json.dumps(["focus"]))

    async def type_shown(self, text: str) -> None:
        """Type `text` into the focused field and wait until the field shows it: a key that
        went astray shows nowhere."""
        await self.keys(text)
        await self.wait_for_text(text, STEP_WAIT, since=self.key_mark)

    async def focus_shown(self, placeholder: str, timeout: float | None = None) -> None:
        """Wait until the empty field showing `placeholder` has focus: its blinking cursor
        redraws it again and again. Keys typed before a focus move lands go astray."""
        before = self.screen_text.count(placeholder)
        deadline = time.monotonic() + (timeout or self.timeout)
        while self.screen_text.count(placeholder) < before + 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: the '{placeholder}' field never took focus")
            await asyncio.sleep(0.1)

    async def tab_to(self, placeholder: str) -> None:
        """Tab to the next field and wait until it has focus (its cursor blinks). On a busy
        seat the start-up blur can land after the page's focus, and Tab from no focus goes to
        the first field: the page says it has focus again and Tab is pressed again."""
        for _ in range(RETRIES):
            await self.keys(TAB)
            try:
                await self.focus_shown(placeholder, STEP_WAIT / 3)
                return
            except TimeoutError:
                self.tab_retries += 1
                await self.send_focus()
        raise TimeoutError(f"{self.name}: Tab never reached the '{placeholder}' field")

    async def join(self, code: str, token: str = "") -> int:
        """Type the code and the name (or the seat token); the seat number joined.

        The join screen opens with the code field focused; once it is drawn and the page has
        focus (its cursor blinks), the code is typed and seen on the screen; each Tab waits
        for the next field's cursor before its text is typed."""
        await self.wait_for_text("Join the workshop")
        await self.settle()
        await self.send_focus()
        await self.focus_shown("join code")
        await self.type_shown(code)
        await self.tab_to("display name")
        if token:
            await self.tab_to("seat token, like")
        await self.type_shown(token or self.name)
        await self.keys(ENTER)
        await self.wait_for_text("you are at seat")
        found = re.search(r"you are at seat (\d+)", self.screen_text)
        assert found is not None
        return int(found.group(1))

    def seat_token(self) -> str:
        found = re.search(r"(?<!like )\b(\d{1,3}-[A-Z0-9]{4}-[A-Z0-9]{4})\b", self.screen_text)
        return found.group(1) if found else ""


async def on_step(client: SeatClient, seat: int, number: int, ready: Any = None) -> int:
    """Wait until the seat's record says step `number` (and `ready`) and its screen is drawn
    and settled; the mark in the screen stream where the step began."""
    await client.wait_status(
        seat, lambda s: s.get("step") == number and (ready is None or ready(s)), f"step {number}"
    )
    mark = client.step_marks.setdefault(number, client.key_mark)
    await client.wait_for_text(f"Step {number} ", since=mark)
    await client.settle()
    return mark


async def enter_for(client: SeatClient, seat: int, number: int, label: str = "") -> None:
    """Press Enter once the footer says Enter is `label` on step `number`; again (bounded) if
    the step did not advance. Tab moves on from any other button first, so Enter never lands
    on a Copy button; a step that stays put after RETRIES is reported, not pressed forever."""
    label = label or NEXT_LABELS.get(number, "Next")
    mark = client.step_marks.get(number, client.received)
    for _ in range(RETRIES):
        for _ in range(12):
            shown = client.enter_label(since=mark)
            if shown == label or shown is None:
                break
            await client.keys(TAB)
            await client.settle()
        await client.keys(ENTER)
        try:
            await asyncio.wait_for(
                client.wait_status(seat, lambda s: s.get("step") != number, "the next step"),
                STEP_WAIT,
            )
            return
        except asyncio.TimeoutError:
            await client.settle()
    raise TimeoutError(f"{client.name}: step {number} did not advance after {RETRIES} tries "
                       f"(footer: {client.enter_label(since=mark)!r}; {client.status(seat)})")


async def walk_to_upload(client: SeatClient, seat: int) -> None:
    """Welcome → Name (passphrase twice) → Generate: up to the Upload step."""
    await on_step(client, seat, 1)
    await enter_for(client, seat, 1)
    await on_step(client, seat, 2)
    # Focus starts in the passphrase; Enter there moves to the confirmation, Enter there is Next.
    for attempt in range(RETRIES):
        await client.keys(PASSPHRASE + ENTER)
        await client.settle()
        await client.keys(PASSPHRASE + ENTER)
        try:
            await asyncio.wait_for(
                client.wait_status(seat, lambda s: s.get("step") != 2, "the next step"), STEP_WAIT
            )
            break
        except asyncio.TimeoutError:
            if attempt == RETRIES - 1:
                raise TimeoutError(f"{client.name}: Name did not advance ({client.status(seat)})"
                                   f"; screen: {client.tail()!r}") from None
            # Back to Welcome and in again: Name opens anew, focus where it starts.
            await client.keys(ESCAPE)
            await on_step(client, seat, 1)
            await enter_for(client, seat, 1)
            await on_step(client, seat, 2)
    await on_step(client, seat, 3, ready=lambda s: s.get("generated"))
    await enter_for(client, seat, 3)


async def walk_from_upload(client: SeatClient, seat: int) -> None:
    """Upload (the button, then Next) → Thumbprint → IDs (fill) → both tests → Summary.

    Driven by the step the seat's record shows, so a step that went elsewhere (e.g. Back
    from a test to IDs) is walked again from where the seat is; bounded."""
    for _ in range(3 * 9):
        number = int(client.status(seat).get("step") or 0)
        if number == 9:
            return
        client.step_marks.pop(number, None)
        if number == 4:
            await upload(client, seat)
            await on_step(client, seat, 4, ready=lambda s: s.get("uploaded"))
        elif number == 6:
            await on_step(client, seat, 6)
            await client.keys(CTRL_F)  # Fill from the demo tenant: works whatever has the focus
            await client.settle()
        elif number in (7, 8):
            done = "positive" if number == 7 else "negative"
            await on_step(client, seat, number, ready=lambda s, d=done: s.get(d))
        else:
            await on_step(client, seat, number)
        await enter_for(client, seat, number)
    raise TimeoutError(f"{client.name}: the summary never came ({client.status(seat)})")


async def upload(client: SeatClient, seat: int) -> None:
    """Press the Upload button (focused on arrival) until the record says uploaded."""
    await on_step(client, seat, 4)
    mark = client.step_marks[4]
    for _ in range(RETRIES):
        if client.status(seat).get("uploaded"):
            return
        if client.enter_label(since=mark) not in (None, "Next"):
            await client.keys(ENTER)
        try:
            await asyncio.wait_for(client.wait_status(
                seat, lambda s: bool(s.get("uploaded")), "the upload"), STEP_WAIT)
            return
        except asyncio.TimeoutError:
            await client.settle()


async def run_seat(url: str, folder: Path, code: str, name: str, *, timeout: float = 300) -> SeatRun:
    """One attendee from connecting to the summary; failures are recorded, never raised."""
    run = SeatRun(name)
    client = SeatClient(url, folder, name, timeout=timeout)
    started = time.monotonic()
    try:
        await client.connect()
        run.seat = seat = await client.join(code)
        run.join_seconds = time.monotonic() - started
        await client.keys(ENTER)  # "Start the wizard"
        flow_started = time.monotonic()
        await walk_to_upload(client, seat)
        await walk_from_upload(client, seat)
        run.flow_seconds = time.monotonic() - flow_started
        run.finished = client.status(seat).get("negative") == "pass"
    except Exception as error:
        run.error = f"{type(error).__name__}: {error}"
    finally:
        await client.close()
    return run
