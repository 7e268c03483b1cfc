"""A scripted attendee: speaks textual-serve's web-socket protocol like the page in a browser.

It sends keys (["stdin", text]) and the terminal size (["resize", ...]), reads the screen's
bytes (and ignores them), and follows the wizard by the seat's status file, the record the
trainer's view reads too: it presses the next key only once the step it expects is shown.
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
PASSPHRASE = "Workshop-Passphrase-42"
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
                self.screen_text = (self.screen_text + text)[-20000:]
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
        for part in re.split(r"([\t\r])", text):
            if part:
                await self.socket.send_str(json.dumps(["stdin", part]))
                if part in (TAB, ENTER):
                    # Keys are handed to the focused widget before a Tab's focus move is
                    # done: a pause lets the move land first, as a person's typing does.
                    await asyncio.sleep(0.5)

    async def wait_for_text(self, text: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.timeout)
        while text not in self.screen_text:
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

    async def focus_shown(self, placeholder: str) -> None:
        """Wait until the empty field showing `placeholder` has focus: its blinking cursor
        redraws it again and again. Keys typed before a focus move lands go astray."""
        before = self.screen_text.count(placeholder)
        deadline = time.monotonic() + self.timeout
        while self.screen_text.count(placeholder) < before + 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: the '{placeholder}' field never took focus")
            await asyncio.sleep(0.1)

    async def join(self, code: str, token: str = "") -> int:
        """Type the code and the name (or the seat token); the seat number joined."""
        await self.wait_for_text("Join the workshop")
        await self.focus_shown("join code")
        await self.keys(code + TAB)
        if token:
            await self.focus_shown("display name")
            await self.keys(TAB)
            await self.focus_shown("seat token, like")
            await self.keys(token + ENTER)
        else:
            await self.focus_shown("display name")
            await self.keys(self.name + ENTER)
        await self.wait_for_text("you are at seat")
        found = re.search(r"you are at seat (\d+)", self.screen_text)
        assert found is not None
        return int(found.group(1))

    def seat_token(self) -> str:
        found = re.search(r"(?<!like )\b(\d{1,3}-[A-Z0-9]{4}-[A-Z0-9]{4})\b", self.screen_text)
        return found.group(1) if found else ""


async def step(client: SeatClient, seat: int, number: int, keys: str = ENTER,
               ready: Any = None) -> None:
    """Wait for step `number` (and `ready`), then press `keys`."""
    await client.wait_status(
        seat, lambda s: s.get("step") == number and (ready is None or ready(s)), f"step {number}"
    )
    await asyncio.sleep(0.2)  # the step's focus settles after it is recorded
    await client.keys(keys)


async def advance(client: SeatClient, seat: int, number: int, ready: Any = None) -> None:
    """Wait for step `number` (and `ready`), then press Enter until the wizard moves on.

    Enter is Next once a step's work is done; a key that lands while focus is still moving
    to Next (a loaded machine) is pressed again, as a person would.
    """
    await step(client, seat, number, ENTER, ready)
    while True:
        try:
            await asyncio.wait_for(
                client.wait_status(seat, lambda s: s.get("step") != number, "the next step"), 3
            )
            return
        except asyncio.TimeoutError:
            await client.keys(ENTER)


async def walk_to_upload(client: SeatClient, seat: int) -> None:
    """Welcome → Name (passphrase twice) → Generate: up to the Upload step."""
    await advance(client, seat, 1)
    await step(client, seat, 2, PASSPHRASE + ENTER)
    await client.keys(PASSPHRASE + ENTER)
    await advance(client, seat, 3, ready=lambda s: s.get("generated"))


async def walk_from_upload(client: SeatClient, seat: int) -> None:
    """Upload (the button, then Next) → Thumbprint → IDs (fill) → both tests → Summary."""
    await step(client, seat, 4)
    await advance(client, seat, 4, ready=lambda s: s.get("uploaded"))
    await advance(client, seat, 5)
    await advance(client, seat, 6)  # Fill from the demo tenant, then Next
    await advance(client, seat, 7, ready=lambda s: s.get("positive"))
    await advance(client, seat, 8, ready=lambda s: s.get("negative"))
    await client.wait_status(seat, lambda s: s.get("step") == 9, "the summary")


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
