"""The browsers' server: textual-serve in a thread of the workshop process, every seat process
it starts kept track of, so that stopping the workshop stops them all.

textual-serve starts one process per browser connection (its `command`) and speaks to it
over pipes; the browser reaches it through a web socket. Its own `serve()` wants the main
thread and the terminal (a banner, logging, signal handlers); the trainer's view has them,
so the server runs on an event loop of its own here, quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from wizard.errors import UserError

log = logging.getLogger("wizard.workshop")
STOP_GRACE_SECONDS = 3.0


def url_host(host: str) -> str:
    """The host to put in the attendees' URL: this machine's address for a wildcard bind."""
    bare = host.strip("[]")
    if bare in ("0.0.0.0", "::", ""):
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it picks the outgoing address
            return str(probe.getsockname()[0])
        return socket.gethostname()
    return f"[{bare}]" if ":" in bare else bare


class _SeatServer(Server):
    """textual-serve's server, silent, remembering each app process it starts."""

    def __init__(self, command: str, host: str, port: int, title: str) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.services: set[AppService] = set()

    async def on_startup(self, app: web.Application) -> None:
        """No banner: the trainer's view owns the terminal."""

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        # As textual-serve's own, plus the bookkeeping of the seat processes.
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _int(request.query.get("width", "80"), 80)
        height = _int(request.query.get("height", "24"), 24)
        service: AppService | None = None
        try:
            await websocket.prepare(request)
            async def close() -> None:
                await websocket.close()

            service = AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            self.services.add(service)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # one seat's trouble never reaches the others
            log.warning("a seat's connection failed: %s", error)
        finally:
            if service is not None:
                await _stop_service(service)
                self.services.discard(service)
        return websocket


def _int(text: str, default: int) -> int:
    try:
        return max(10, min(500, int(text)))
    except ValueError:
        return default


def _pid(service: AppService) -> int | None:
    process = service._process  # textual-serve keeps it private; the pid is all we need
    return process.pid if process is not None and process.returncode is None else None


async def _stop_service(service: AppService) -> None:
    """Ask the seat's wizard to quit; end its process if it has not within the grace time."""
    with contextlib.suppress(Exception):  # a timeout included: the process is ended below
        await asyncio.wait_for(service.stop(), STOP_GRACE_SECONDS)
    process = service._process
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)


class SeatWebServer:
    """`start()` serves the seats' command to browsers; `stop()` ends every seat process."""

    def __init__(self, command: str, host: str, port: int, title: str) -> None:
        self.host = host
        self.port = port
        self._server = _SeatServer(command, host, port, title)
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        """Listen, and return the URL attendees open."""
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self._thread = threading.Thread(target=self._loop.run_forever, name="workshop-web",
                                        daemon=True)
        self._thread.start()
        try:
            port = started.result(timeout=30)
        except OSError as error:
            self.stop()
            raise UserError(
                f"The workshop could not listen on {self.host}:{self.port} "
                f"({error.strerror or error}).",
                hint="Choose another --port, or 0 for any free port.",
            ) from None
        self.url = f"http://{url_host(self.host)}:{port}"
        self._server.public_url = self.url
        return self.url

    async def _start(self) -> int:
        runner = web.AppRunner(await self._server._make_app(), handle_signals=False,
                               access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets: Any = site._server.sockets if site._server is not None else []  # type: ignore[attr-defined]
        return int(sockets[0].getsockname()[1])

    def seat_pids(self) -> list[int]:
        return [pid for service in list(self._server.services) if (pid := _pid(service))]

    def end_process(self, pid: int) -> bool:
        """End one seat process (the trainer's reset); only a process this server started."""
        if pid not in self.seat_pids():
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        return True

    def stop(self) -> None:
        """Close every connection, end every seat process, stop listening."""
        if self._loop.is_closed():
            return
        if self._thread is not None and self._thread.is_alive():
            stopping = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
            with contextlib.suppress(Exception):
                stopping.result(timeout=STOP_GRACE_SECONDS * 3)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    async def _stop(self) -> None:
        services = list(self._server.services)
        await asyncio.gather(*(_stop_service(s) for s in services), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
