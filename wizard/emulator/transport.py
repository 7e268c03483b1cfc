"""The demo tenant's HTTPS transport: a TLS server on loopback and its request mechanics.

One ThreadingHTTPServer. TLS handshakes happen in the per-connection thread (not in the
accept loop) and every socket has a timeout, so a slow or silent client only ever holds its
own thread. Request bodies are capped; the open connections are kept in a ConnectionTable,
which gives every wait (handshake, idle, a request arriving) one total deadline and makes
room for a new connection by closing the one that has waited longest, so slow clients cannot
starve the rest. What a request means is not decided here: each one goes to the `Responder`
the server was given (the demo tenant's router).
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from wizard.emulator.connections import ConnectionTable
from wizard.emulator.request_head import MalformedHead, parse_request_line, read_header_fields
from wizard.shown import shown

log = logging.getLogger("wizard.emulator")

MAX_BODY = 64 * 1024
DRAIN_LIMIT = 1024 * 1024
# Each connection holds a thread until it closes or idles out. With this many open, a new
# one takes the place of the connection that has waited longest for its request (or is
# closed at once when every connection is being answered), so a flood cannot exhaust the
# process nor lock out the next client.
MAX_CONNECTIONS = 512
# One address may hold this many; on loopback every client shares 127.0.0.1, so it is the
# whole table there (see connections.py for why).
MAX_CONNECTIONS_PER_CLIENT = 512
SOCKET_TIMEOUT = 10.0  # per read: a slow client, or an idle keep-alive connection
# The whole of one wait: the TLS handshake and first request, or the idle time and the next
# request on a kept-alive connection, headers and body together. Honest clients take
# milliseconds; a slow one trickling bytes in is cut off when this runs out.
REQUEST_DEADLINE = 15.0
# The accept loop sleeps in select() until a connection or stop()'s wake-up byte arrives;
# this is only the longest it sleeps before looking at the stop flag on its own.
IDLE_CHECK_SECONDS = 1.0

# Answers one parsed request: (handler, method, path without the query, body).
Responder = Callable[["RequestHandler", str, str, bytes], None]


class ResetConnection(Exception):
    """Raised after RequestHandler.reset_mid_response() so nothing else is written."""


# The client or a fault ended the connection: there is no one left to answer.
CONNECTION_ENDED = (ResetConnection, ConnectionError, TimeoutError, ssl.SSLError)


class TlsServer(ThreadingHTTPServer):
    """Accepts plain TCP; each connection's thread does its own TLS handshake with a timeout.

    Served by serve_until_stopped(), not serve_forever(): serve_forever only notices
    shutdown() at its next poll, so every stop waited out the poll interval. Here stop writes
    a byte to a socket pair the accept loop also selects on, and the loop ends at once.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        respond: Responder,
        context: ssl.SSLContext,
        family: int,
    ) -> None:
        self.address_family = family
        self.respond = respond
        self.ssl_context = context
        self.connections = ConnectionTable(
            MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT, REQUEST_DEADLINE
        )
        self._stop_requested = threading.Event()
        self._loop_done = threading.Event()
        self._loop_done.set()  # no loop running yet
        super().__init__(address, RequestHandler)
        self.socket.setblocking(False)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)

    def serve_until_stopped(self) -> None:
        """Accept connections until request_stop() (from any thread)."""
        self._loop_done.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not self._stop_requested.is_set():
                    ready = selector.select(IDLE_CHECK_SECONDS)
                    if self._stop_requested.is_set():
                        break
                    if any(key.fileobj is self for key, _ in ready):
                        self._accept_one()
                    self.service_actions()
        finally:
            self._loop_done.set()

    def _accept_one(self) -> None:
        """Accept one connection and hand it to its thread (BaseServer's request handling).

        The listening socket is non-blocking, so a connection that went away between
        select() and accept() costs nothing; a failure with one connection goes to
        handle_error and never ends the loop.
        """
        try:
            request, client_address = self.get_request()
        except OSError:
            return
        if not self.verify_request(request, client_address):
            self.shutdown_request(request)
            return
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)
        except BaseException:
            self.shutdown_request(request)
            raise

    def request_stop(self) -> None:
        """Ask the accept loop to end, and wake it so it does so now."""
        self._stop_requested.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")

    def shutdown(self) -> None:
        """Stop the accept loop and wait (up to 5 s) until it has ended."""
        self.request_stop()
        self._loop_done.wait(5.0)

    def server_close(self) -> None:
        super().server_close()
        for end in (getattr(self, "_wake_reader", None), getattr(self, "_wake_writer", None)):
            if end is not None:
                end.close()

    def service_actions(self) -> None:
        """Run by the accept loop at least every IDLE_CHECK_SECONDS: end overdue waits."""
        self.connections.reap()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Wrap the connection in TLS (no I/O yet), take it into the table, start its thread."""
        sock: socket.socket = request
        sock.settimeout(SOCKET_TIMEOUT)
        # Answers go out as two writes (headers, then body): with Nagle on, the body waits for
        # the client's delayed ACK of the headers, ~40 ms on every keep-alive request.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls_sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        except (OSError, ssl.SSLError):
            self.shutdown_request(sock)
            return
        if not self.connections.admit(tls_sock, str(client_address[0])):
            log.warning("all %d connections are busy: closing a new one", MAX_CONNECTIONS)
            self.shutdown_request(tls_sock)
            return
        try:
            super().process_request(tls_sock, client_address)
        except BaseException:
            self.connections.release(tls_sock)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            # Out of the table before the socket closes (ConnectionTable._cut_off relies on it).
            self.connections.release(request)
            self.shutdown_request(request)

    def finish_request(self, request: Any, client_address: Any) -> None:
        tls_sock: ssl.SSLSocket = request
        try:
            tls_sock.do_handshake()
        except (OSError, ssl.SSLError) as error:
            log.debug("TLS handshake with %s failed: %s", client_address, error)
            return
        RequestHandler(tls_sock, client_address, self)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; keep the terminal quiet and log instead.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


def plain_error(code: str, message: str) -> dict[str, object]:
    """The demo tenant's own error body (not Entra's or Graph's): {"error": {code, message}}."""
    return {"error": {"code": code, "message": message}}


class RequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: reads the body, hands the request on, writes the answer."""

    protocol_version = "HTTP/1.1"
    server_version = "entra-cert-wizard-demo"
    sys_version = ""
    timeout = SOCKET_TIMEOUT
    # http.server assumes HTTP/0.9 until a request line names its version, and answers a line
    # it cannot parse in that version's style: a bare HTML page with no status line, which no
    # client can read as an error. Assuming HTTP/1.0 makes every refusal start with a status line.
    default_request_version = "HTTP/1.0"
    server: TlsServer
    raw_requestline: bytes
    _date_header: tuple[int, str] = (0, "")

    def parse_request(self) -> bool:
        """The request line and header fields, read by request_head (strict, and without
        http.server's email parser); Connection and Expect handled as http.server does."""
        self.command = ""  # not known yet: an answer to a bad line is a plain one
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        if not self.requestline.strip():
            return False  # a blank line: nothing to answer
        try:
            method, target, version, number = parse_request_line(self.requestline)
            self.request_version = version
            self.headers = read_header_fields(self.rfile)
        except MalformedHead as error:
            self.send_error(error.status, error.reason)
            return False
        self.command, self.path = method, target
        connection = self.headers.get("Connection", "").lower()
        self.close_connection = number < (1, 1) and connection != "keep-alive"
        if connection == "close":
            self.close_connection = True
        expect = self.headers.get("Expect", "")
        if expect.lower() == "100-continue" and number >= (1, 1):
            return bool(self.handle_expect_100())
        return True

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once a second rather than for every answer (~7 us)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        cached = RequestHandler._date_header  # one tuple, replaced whole: safe across threads
        if cached[0] != second:
            cached = (second, super().date_time_string(second))
            RequestHandler._date_header = cached
        return cached[1]

    def log_message(self, format: str, *args: Any) -> None:
        # The request line is the client's: shown escaped, as CPython's own log_message does.
        # Every answer calls this: the line is only made when someone reads it.
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.client_address[0], shown(format % args))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        """Send a complete answer; Connection: close goes with it when the connection ends."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store, no-cache")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        payload = body if self.command != "HEAD" else b""
        # Headers and body leave in one write (one TLS record; ~1.5x the requests per second)
        # through http.server's header buffer, with the plain two-write path as a fallback.
        buffer: list[bytes] | None = getattr(self, "_headers_buffer", None)
        if buffer is not None:
            buffer.append(b"\r\n" + payload)
            self.flush_headers()
        else:
            self.end_headers()
            self.wfile.write(payload)

    def send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self.send(status, body, "application/json; charset=utf-8", headers)

    def reset_mid_response(self) -> None:
        """Promise a body, send a few bytes of it and drop the connection (the reset fault)."""
        self.close_connection = True
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b'Content-Length: 4096\r\n\r\n{"tok'
        )
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise ResetConnection()

    def _refuse_body(self, status: int, code: str, message: str) -> None:
        self.close_connection = True
        self.send_json(status, plain_error(code, message))

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 400/411/413 (the connection then closes)."""
        if self.headers.get("Transfer-Encoding"):
            self._refuse_body(
                411, "LengthRequired", "Send a Content-Length; chunked bodies are not accepted."
            )
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            self._refuse_body(400, "BadRequest", "The Content-Length header is not a number.")
            return None
        if length > MAX_BODY:
            if length <= DRAIN_LIMIT:
                # Read and drop a moderately oversized body so the client, still sending,
                # gets to read the 413 instead of a connection reset.
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            self._refuse_body(
                413, "RequestEntityTooLarge", f"Request bodies are limited to {MAX_BODY} bytes."
            )
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self._read_body()
            if body is not None:
                self.server.connections.answering(self.connection)
                self.server.respond(self, method, path, body)
        except CONNECTION_ENDED:
            self.close_connection = True
        finally:
            self.server.connections.waiting(self.connection)
            if log.isEnabledFor(logging.DEBUG):
                elapsed = (time.perf_counter() - started) * 1000
                log.debug("%s %s in %.1f ms", method, shown(path), elapsed)
