"""The demo tenant's HTTPS server: Entra ID's token service, a small Graph, and the portal API.

One ThreadingHTTPServer on loopback. TLS handshakes happen in the per-connection thread (not
in the accept loop) and every socket has a timeout, so a slow or silent client only ever
holds its own thread. Request bodies are capped; any unexpected exception becomes a 500 with
an Entra-shaped body and a log line, and the server keeps serving.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import selectors
import socket
import ssl
import threading
import time
import urllib.parse
import uuid
from dataclasses import asdict, dataclass
from datetime import timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from wizard.emulator import errors
from wizard.emulator._files import ensure_private_dir, state_lock
from wizard.emulator.assertions import JWT_BEARER, verify_client_assertion
from wizard.emulator.directory import (
    DNS_RE,
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    GUID_RE,
    ORG_READ_ROLES,
    Directory,
    KeyCredential,
    PortalError,
)
from wizard.emulator.errors import EntraError, graph_error
from wizard.emulator.faults import Fault, FaultSwitch
from wizard.emulator.tls import TlsFiles, ensure_tls
from wizard.emulator.tokens import BearerRejected, TokenIssuer
from wizard.errors import UserError

log = logging.getLogger("wizard.emulator")

MAX_BODY = 64 * 1024
DRAIN_LIMIT = 1024 * 1024
# Each connection holds a thread until it closes or idles out; beyond this many the newest
# connection is closed at once, so a flood cannot exhaust the process.
MAX_CONNECTIONS = 512
SOCKET_TIMEOUT = 10.0  # per read: a slow client, or an idle keep-alive connection
# The accept loop sleeps in select() until a connection or stop()'s wake-up byte arrives;
# this is only the longest it sleeps before looking at the stop flag on its own.
IDLE_CHECK_SECONDS = 1.0
GRAPH_PREFIX = "/graph"
PORTAL_PREFIX = "/portal"
LOOPBACK_NAMES = ("localhost", "localhost.")
# The Graph host Entra's OpenID configuration names for a cloud_instance_name (cloud-instance
# fault); other instances keep the global one.
MSGRAPH_HOSTS = {
    "microsoftonline.us": "graph.microsoft.us",
    "partner.microsoftonline.cn": "microsoftgraph.chinacloudapi.cn",
}


@dataclass(frozen=True)
class DemoInfo:
    """Everything a client needs to talk to a running demo tenant (the --json contract)."""

    authority_host: str
    authority: str
    tenant_id: str
    tenant_domain: str
    organization_name: str
    token_endpoint: str
    graph_endpoint: str
    graph_resource: str
    ca_bundle: str
    client_id: str
    app_name: str
    unconsented_client_id: str
    unconsented_app_name: str
    portal: str
    admin_token: str | None
    jwks_uri: str = ""
    openid_configuration: str = ""
    state_dir: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    """The host as it goes into a URL: brackets for IPv6, loopback for wildcard binds."""
    bare = host.strip("[]")
    if bare in ("0.0.0.0", ""):
        return "127.0.0.1"
    if bare == "::":
        return "[::1]"
    return f"[{bare}]" if ":" in bare else bare


def _certificate_names(host: str) -> tuple[str, ...]:
    """Names beyond loopback the server certificate must carry for this bind address."""
    bare = host.strip("[]")
    if is_loopback(bare):
        return ()
    if bare not in ("0.0.0.0", "::", ""):
        return (bare,)
    # A wildcard bind: this machine's name and addresses, best effort.
    names = [socket.gethostname()]
    with contextlib.suppress(OSError):
        names += [str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)]
    return tuple(dict.fromkeys(n.split("%")[0] for n in names if n))


class _TlsServer(ThreadingHTTPServer):
    """Accepts plain TCP; each connection's thread does its own TLS handshake with a timeout.

    Served by serve_until_stopped(), not serve_forever(): serve_forever only notices
    shutdown() at its next poll, so every stop waited out the poll interval. Here stop writes
    a byte to a socket pair the accept loop also selects on, and the loop ends at once.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], tenant: DemoTenant, context: ssl.SSLContext, family: int
    ) -> None:
        self.address_family = family
        self.tenant = tenant
        self.ssl_context = context
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._stop_requested = threading.Event()
        self._loop_done = threading.Event()
        self._loop_done.set()  # no loop running yet
        super().__init__(address, _Handler)
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

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("too many open connections (%d): closing a new one", MAX_CONNECTIONS)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        sock: socket.socket = request
        sock.settimeout(SOCKET_TIMEOUT)
        # Answers go out as two writes (headers, then body): with Nagle on, the body waits for
        # the client's delayed ACK of the headers, ~40 ms on every keep-alive request.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls_sock = self.ssl_context.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError) as error:
            log.debug("TLS handshake with %s failed: %s", client_address, error)
            return
        try:
            _Handler(tls_sock, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls_sock.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; keep the terminal quiet and log instead.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _ResetConnection(Exception):
    """Raised by the reset fault to drop the connection mid-response."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "entra-cert-wizard-demo"
    sys_version = ""
    timeout = SOCKET_TIMEOUT
    server: _TlsServer

    # -- plumbing --------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

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

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
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

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _entra(self, error: EntraError) -> None:
        tenant = self.server.tenant
        body = error.envelope(
            authority_host=tenant.authority_host, correlation_id=self._correlation_id()
        )
        headers = {"x-ms-request-id": str(body["trace_id"]), **error.headers}
        self._json(error.status, body, headers)

    def _correlation_id(self) -> str:
        value = self.headers.get("client-request-id", "") if self.headers else ""
        return value if GUID_RE.match(value) else str(uuid.uuid4())

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 411/413 (the connection then closes)."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._json(
                411,
                {
                    "error": {
                        "code": "LengthRequired",
                        "message": "Send a Content-Length; chunked bodies are not accepted.",
                    }
                },
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
            self.close_connection = True
            self._json(
                400,
                {
                    "error": {
                        "code": "BadRequest",
                        "message": "The Content-Length header is not a number.",
                    }
                },
            )
            return None
        if length > MAX_BODY:
            self.close_connection = True
            if length <= DRAIN_LIMIT:
                # Read and drop a moderately oversized body so the client, still sending,
                # gets to read the 413 instead of a connection reset.
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            self._json(
                413,
                {
                    "error": {
                        "code": "RequestEntityTooLarge",
                        "message": f"Request bodies are limited to {MAX_BODY} bytes.",
                    }
                },
            )
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self._read_body()
            if body is None:
                return
            self._route(method, path, body)
        except _ResetConnection:
            self.close_connection = True
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True
        except EntraError as error:
            self._entra(error)
        except Exception:
            log.exception("unexpected error answering %s %s", method, path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._entra(errors.server_error())
        finally:
            log.debug("%s %s in %.1f ms", method, path, (time.perf_counter() - started) * 1000)

    # -- routing ---------------------------------------------------------------------------

    def _route(self, method: str, path: str, body: bytes) -> None:
        tenant = self.server.tenant
        if path.startswith(PORTAL_PREFIX + "/") or path == PORTAL_PREFIX:
            self._portal(method, path[len(PORTAL_PREFIX) :], body)
            return
        if path.startswith(GRAPH_PREFIX + "/"):
            if self._apply_faults("graph"):
                return
            if method == "GET" and path.rstrip("/") == GRAPH_PREFIX + "/v1.0/organization":
                self._organization()
            else:
                self._graph_not_found(path)
            return
        parts = path.split("/")
        # /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/oauth2/v2.0/token, ...
        if len(parts) >= 3 and parts[0] == "":
            segment, rest = urllib.parse.unquote(parts[1]), "/".join(parts[2:])
            if segment == "common" and rest == "discovery/instance" and method == "GET":
                if not self._apply_faults("discovery"):
                    self._instance_discovery()
                return
            if rest in (
                "v2.0/.well-known/openid-configuration",
                ".well-known/openid-configuration",
            ):
                if method == "GET" and not self._apply_faults("discovery"):
                    canonical = tenant.resolve_tenant(segment, error_name="invalid_tenant")
                    config = tenant.openid_configuration(segment, canonical)
                    elsewhere = tenant.faults.take("discovery", ("cloud-instance",))
                    if elsewhere is not None and elsewhere.instance:
                        config["cloud_instance_name"] = elsewhere.instance
                        config["msgraph_host"] = MSGRAPH_HOSTS.get(
                            elsewhere.instance, config["msgraph_host"]
                        )
                    self._json(200, config)
                elif method != "GET":
                    self._method_not_allowed()
                return
            if rest == "discovery/v2.0/keys" and method == "GET":
                if not self._apply_faults("discovery"):
                    tenant.resolve_tenant(segment, error_name="invalid_tenant")
                    self._json(200, tenant.issuer.jwks(tenant.issuer_v2))
                return
            if rest == "oauth2/v2.0/token":
                if method != "POST":
                    raise errors.post_only(method)
                elif not self._apply_faults("token"):
                    self._token(segment, body)
                return
        self._json(
            404,
            {
                "error": {
                    "code": "NotFound",
                    "message": f"Nothing is served at {path} by the demo tenant.",
                }
            },
        )

    def _method_not_allowed(self) -> None:
        self._json(
            405,
            {"error": {"code": "MethodNotAllowed", "message": "This method is not allowed here."}},
        )

    # -- faults ----------------------------------------------------------------------------

    def _apply_faults(self, endpoint: str) -> bool:
        """Apply delay/status/not-json/reset faults; True when the response was taken over."""
        switch = self.server.tenant.faults
        delay = switch.take(endpoint, ("delay",))
        if delay is not None:
            time.sleep(delay.seconds)
            return False
        fault = switch.take(endpoint, ("status", "not-json", "reset"))
        if fault is None:
            return False
        if fault.kind == "status":
            headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            if endpoint == "graph":
                request_id = str(uuid.uuid4())
                code = "TooManyRequests" if fault.status == 429 else "ServiceUnavailable"
                self._json(
                    fault.status,
                    graph_error(
                        code,
                        "The service is busy; try again later.",
                        request_id=request_id,
                        client_request_id=request_id,
                    ),
                    headers,
                )
            else:
                error = errors.throttled(fault.status)
                error.status = fault.status
                error.headers = headers
                self._entra(error)
        elif fault.kind == "not-json":
            page = (
                b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
                b"<body>Proxy login page</body></html>"
            )
            self._send(200, page, "text/html; charset=utf-8")
        else:
            self.close_connection = True
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 4096\r\n\r\n{"tok'
            )
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            raise _ResetConnection()
        return True

    # -- the token service -----------------------------------------------------------------

    def _instance_discovery(self) -> None:
        tenant = self.server.tenant
        netloc = urllib.parse.urlsplit(tenant.authority_host).netloc
        self._json(
            200,
            {
                "tenant_discovery_endpoint": (
                    f"{tenant.authority_host}/{{tenant}}/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": netloc, "preferred_cache": netloc, "aliases": [netloc]}
                ],
            },
        )

    def _token(self, segment: str, body: bytes) -> None:
        tenant = self.server.tenant
        tenant.resolve_tenant(segment, error_name="invalid_request")
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise errors.missing_parameter("grant_type") from None

        def field(name: str) -> str:
            values = form.get(name)
            return values[0].strip() if values else ""

        grant = field("grant_type")
        if not grant:
            raise errors.missing_parameter("grant_type")
        if grant != "client_credentials":
            raise errors.unsupported_grant(grant)
        client_id = field("client_id")
        if not client_id:
            raise errors.missing_parameter("client_id")
        if not GUID_RE.match(client_id):
            raise errors.invalid_client_id(client_id)
        scope = field("scope")
        if not scope:
            raise errors.missing_parameter("scope")
        directory = tenant.directory
        app = directory.application(client_id)
        if app is None:
            # Entra names the directory by its display name in 700016 and 500011.
            raise errors.unknown_application(client_id, directory.tenant.display_name)
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise errors.invalid_scope_suffix(scope)
        resource = scopes[0][: -len("/.default")]
        refusal = tenant.faults.take("token", ("aadsts",))
        if refusal is not None and refusal.code is not None:
            raise errors.for_code(
                refusal.code,
                client_id=app.client_id,
                app_name=app.display_name,
                tenant_name=directory.tenant.display_name,
            )

        accept_any = tenant.faults.peek("token", "accept-any")
        if accept_any is not None and tenant.faults.take("token", ("accept-any",)) is not None:
            log.warning(
                "accept-any fault: issuing a token for app %s without checking its credential",
                client_id,
            )
        else:
            if app.public_client and (field("client_assertion") or field("client_secret")):
                raise errors.public_client_with_credential()
            self._authenticate_client(form, field, client_id)
        if not app.enabled:
            raise errors.application_disabled(app.client_id, app.display_name)
        if app.blocked_by_conditional_access:
            raise errors.blocked_by_conditional_access()
        if resource.rstrip("/").lower() not in (
            GRAPH_RESOURCE,
            GRAPH_APP_ID,
            tenant.graph_resource.rstrip("/").lower(),
        ):
            raise errors.unknown_resource(resource, directory.tenant.display_name)
        issued = tenant.issuer.issue(app, tenant.graph_resource)
        self._json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "ext_expires_in": issued.expires_in,
                "access_token": issued.access_token,
            },
            {"x-ms-request-id": str(uuid.uuid4())},
        )

    def _authenticate_client(self, form: dict[str, list[str]], field: Any, client_id: str) -> None:
        tenant = self.server.tenant
        if field("client_secret"):
            raise errors.client_secret_not_registered(client_id)
        assertion = field("client_assertion")
        if not assertion:
            raise errors.missing_credential()
        assertion_type = field("client_assertion_type")
        if not assertion_type:
            raise errors.missing_assertion_type()
        if assertion_type != JWT_BEARER:
            raise errors.wrong_assertion_type(assertion_type)
        now = time.time()
        propagation = tenant.faults.peek("token", "upload-propagation")

        def hidden(key: KeyCredential) -> bool:
            if propagation is None or now - key.added_at >= propagation.seconds:
                return False
            return tenant.faults.take("token", ("upload-propagation",)) is not None

        verify_client_assertion(
            assertion,
            client_id=client_id,
            directory=tenant.directory,
            audiences=tenant.token_audiences(),
            now=now,
            hidden=hidden,
        )

    # -- Microsoft Graph -------------------------------------------------------------------

    def _graph_ids(self) -> tuple[str, str]:
        request_id = str(uuid.uuid4())
        client_request_id = self.headers.get("client-request-id") or request_id
        return request_id, client_request_id[:64]

    def _graph_not_found(self, path: str) -> None:
        request_id, client_request_id = self._graph_ids()
        self._json(
            400,
            graph_error(
                "BadRequest",
                f"Resource not found for the segment '{path.rsplit('/', 1)[-1]}'.",
                request_id=request_id,
                client_request_id=client_request_id,
            ),
            {"request-id": request_id, "client-request-id": client_request_id},
        )

    def _organization(self) -> None:
        tenant = self.server.tenant
        request_id, client_request_id = self._graph_ids()
        ids = {"request-id": request_id, "client-request-id": client_request_id}
        authorization = self.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            token = ""
        try:
            claims = tenant.issuer.validate(token.strip())
        except BearerRejected as rejected:
            self._json(
                401,
                graph_error(
                    "InvalidAuthenticationToken",
                    str(rejected),
                    request_id=request_id,
                    client_request_id=client_request_id,
                ),
                {
                    **ids,
                    "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"',
                },
            )
            return
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not any(r in ORG_READ_ROLES for r in roles):
            self._json(
                403,
                graph_error(
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                    request_id=request_id,
                    client_request_id=client_request_id,
                ),
                ids,
            )
            return
        self._json(200, tenant.organization_document(), {**ids, "OData-Version": "4.0"})

    # -- the portal API --------------------------------------------------------------------

    def _portal(self, method: str, path: str, body: bytes) -> None:
        tenant = self.server.tenant
        try:
            if tenant.admin_token is not None:
                scheme, _, supplied = self.headers.get("Authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(
                    supplied.strip().encode(), tenant.admin_token.encode()
                ):
                    raise PortalError(
                        401,
                        "Unauthorized",
                        "The portal API needs the admin token printed when the demo tenant "
                        "started: send 'Authorization: Bearer <token>'.",
                    )
            self._portal_route(
                method, [urllib.parse.unquote(p) for p in path.strip("/").split("/") if p], body
            )
        except PortalError as error:
            self._json(error.status, {"error": {"code": error.code, "message": error.message}})

    def _portal_route(self, method: str, parts: list[str], body: bytes) -> None:
        tenant = self.server.tenant
        directory = tenant.directory
        if parts == []:
            if method != "GET":
                raise PortalError(405, "MethodNotAllowed", "Use GET.")
            self._json(
                200,
                {"tenant_id": directory.tenant.tenant_id, "tenant_domain": directory.tenant.domain},
            )
            return
        if parts == ["applications"]:
            if method != "GET":
                raise PortalError(405, "MethodNotAllowed", "Use GET to list applications.")
            self._json(200, {"value": directory.applications_json()})
            return
        if parts == ["faults"]:
            if method == "POST":
                try:
                    fault = Fault.from_json(json.loads(body or b"null"))
                except (ValueError, UnicodeDecodeError) as error:
                    raise PortalError(
                        400, "InvalidFault", f"The fault is not valid: {error}."
                    ) from None
                tenant.set_fault(fault)
                self._json(200, {"fault": fault.to_json()})
            elif method == "DELETE":
                tenant.set_fault(None)
                self._json(200, {"fault": None})
            elif method == "GET":
                current = tenant.faults.current()
                self._json(200, {"fault": None if current is None else current.to_json()})
            else:
                raise PortalError(405, "MethodNotAllowed", "Use GET, POST or DELETE.")
            return
        if len(parts) >= 2 and parts[0] == "applications":
            client_id = parts[1]
            if parts[2:] == ["certificates"] and method == "POST":
                credential = directory.add_certificate(client_id, body)
                self._json(201, {"client_id": client_id.lower(), **credential.to_json()})
                return
            if len(parts) == 4 and parts[2] == "certificates" and method == "DELETE":
                removed = directory.remove_certificate(client_id, parts[3])
                self._json(200, {"client_id": client_id.lower(), "removed": removed.to_json()})
                return
            if len(parts) == 2 and method == "PATCH":
                try:
                    changes = json.loads(body or b"{}")
                except (ValueError, UnicodeDecodeError):
                    changes = None
                if not isinstance(changes, dict):
                    raise PortalError(400, "InvalidSettings", "Send a JSON object.")
                self._json(200, directory.update_settings(client_id, changes).to_json())
                return
            if parts[2:] == ["consent"] and method == "POST":
                try:
                    payload = json.loads(body or b"{}")
                except (ValueError, UnicodeDecodeError):
                    payload = None
                if not isinstance(payload, dict) or not isinstance(payload.get("granted"), bool):
                    raise PortalError(
                        400, "InvalidConsent", 'Send JSON {"granted": true} or {"granted": false}.'
                    )
                app = directory.set_consent(client_id, payload["granted"])
                self._json(200, app.to_json())
                return
        raise PortalError(
            404, "NotFound", "No such portal API endpoint (see DESIGN.md: the demo portal API)."
        )


class DemoTenant:
    """A running demo tenant: `with DemoTenant(state_dir) as tenant: tenant.info ...`."""

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        graph_resource: str = GRAPH_RESOURCE,
    ) -> None:
        if state_dir is None:
            from wizard.paths import data_dir

            state_dir = data_dir() / "demo-tenant"
        if not allow_remote and not is_loopback(host):
            raise UserError(
                f"The demo tenant only listens on this machine (loopback), not on '{host}'.",
                hint="Use --host 127.0.0.1, or add --allow-remote to serve other machines "
                "(the portal API then needs the admin token printed at start).",
                exit_code=2,
            )
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self.allow_remote = allow_remote
        self.graph_resource = graph_resource
        self.admin_token: str | None = secrets.token_urlsafe(24) if allow_remote else None
        self.faults = FaultSwitch()
        self.directory: Directory
        self.issuer: TokenIssuer
        self.tls: TlsFiles
        self.authority_host = ""
        self.issuer_v2 = ""
        self._server: _TlsServer | None = None
        self._thread: threading.Thread | None = None
        self._info: DemoInfo | None = None
        self._audiences: tuple[str, ...] = ()

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> DemoInfo:
        if self._info is not None:
            return self._info
        bind_host = "127.0.0.1" if self.host.lower() in LOOPBACK_NAMES else self.host.strip("[]")
        extra = _certificate_names(self.host)
        ensure_private_dir(self.state_dir)
        with state_lock(self.state_dir):
            self.tls = ensure_tls(self.state_dir, extra)
        self.directory = Directory(self.state_dir)
        with state_lock(self.state_dir):
            self.issuer = TokenIssuer(self.state_dir, self.directory.tenant, self.graph_resource)
        family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        try:
            server = _TlsServer((bind_host, self.port), self, self.tls.server_context(), family)
        except OSError as error:
            raise UserError(
                f"The demo tenant could not listen on {bind_host}:{self.port} "
                f"({error.strerror or error}).",
                hint="Choose another --port, or 0 for any free port.",
            ) from None
        port = server.server_address[1]
        url_host = "localhost" if self.host.lower() in LOOPBACK_NAMES else _url_host(self.host)
        self.authority_host = f"https://{url_host}:{port}"
        tenant = self.directory.tenant
        self.issuer_v2 = f"{self.authority_host}/{tenant.tenant_id}/v2.0"
        self._audiences = tuple(
            f"{self.authority_host}/{form}/oauth2/v2.0/token"
            for form in (tenant.tenant_id, tenant.domain)
        )
        apps = self.directory.applications()
        consented = next((a for a in apps if a.consented), apps[0])
        unconsented = next((a for a in apps if a is not consented), consented)
        authority = f"{self.authority_host}/{tenant.tenant_id}"
        self._info = DemoInfo(
            authority_host=self.authority_host,
            authority=authority,
            tenant_id=tenant.tenant_id,
            tenant_domain=tenant.domain,
            organization_name=tenant.display_name,
            token_endpoint=f"{authority}/oauth2/v2.0/token",
            graph_endpoint=self.authority_host + GRAPH_PREFIX,
            graph_resource=self.graph_resource,
            ca_bundle=str(self.tls.ca_bundle),
            client_id=consented.client_id,
            app_name=consented.display_name,
            unconsented_client_id=unconsented.client_id,
            unconsented_app_name=unconsented.display_name,
            portal=self.authority_host + PORTAL_PREFIX,
            admin_token=self.admin_token,
            jwks_uri=f"{authority}/discovery/v2.0/keys",
            openid_configuration=f"{authority}/v2.0/.well-known/openid-configuration",
            state_dir=str(self.state_dir),
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_until_stopped, name="demo-tenant", daemon=True
        )
        self._thread.start()
        log.info("demo tenant listening on %s", self.authority_host)
        return self._info

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        self._info = None
        if server is not None:
            server.request_stop()  # wakes the accept loop: no poll interval to wait out
        if thread is not None:
            thread.join(timeout=5)
        if server is not None:
            server.server_close()

    def __enter__(self) -> DemoTenant:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def info(self) -> DemoInfo:
        if self._info is None:
            raise RuntimeError("The demo tenant is not running: call start() first.")
        return self._info

    def set_fault(self, fault: Fault | None) -> None:
        """Make the tenant misbehave (see Fault); None clears it."""
        self.faults.set(fault)
        log.info(
            "fault %s", "cleared" if fault is None else f"set: {fault.kind} on {fault.endpoint}"
        )

    # -- what the handler asks -------------------------------------------------------------

    def token_audiences(self) -> tuple[str, ...]:
        return self._audiences

    def resolve_tenant(self, identifier: str, *, error_name: str) -> str:
        """The tenant ID for a GUID or domain in a URL, or Entra's 90002/900023 refusal."""
        if GUID_RE.match(identifier) or DNS_RE.match(identifier):
            if self.directory.tenant_matches(identifier):
                return self.directory.tenant.tenant_id
            error = errors.tenant_not_found(identifier)
        else:
            # 'common', 'organizations' and other non-DNS names land here too: the demo
            # tenant serves one tenant only and app-only flows need a specific tenant.
            error = errors.tenant_malformed(identifier)
        error.error = error_name
        raise error

    def openid_configuration(self, requested: str, tenant_id: str) -> dict[str, Any]:
        """Entra's v2.0 OpenID configuration, endpoints in the tenant form requested."""
        base = f"{self.authority_host}/{requested}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{self.authority_host}/{tenant_id}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.authority_host}/{tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.authority_host}{GRAPH_PREFIX}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "cloud_instance_name",
                "cloud_instance_host_name",
                "cloud_graph_host_name",
                "msgraph_host",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
            ],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def organization_document(self) -> dict[str, Any]:
        tenant = self.directory.tenant
        created = tenant.created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "@odata.context": f"{self.authority_host}{GRAPH_PREFIX}/v1.0/$metadata#organization",
            "value": [
                {
                    "id": tenant.tenant_id,
                    "deletedDateTime": None,
                    "businessPhones": [],
                    "city": None,
                    "country": None,
                    "countryLetterCode": tenant.country,
                    "createdDateTime": created,
                    "defaultUsageLocation": None,
                    "displayName": tenant.display_name,
                    "isMultipleDataLocationsForServicesEnabled": None,
                    "marketingNotificationEmails": [],
                    "onPremisesLastSyncDateTime": None,
                    "onPremisesSyncEnabled": None,
                    "partnerTenantType": None,
                    "postalCode": None,
                    "preferredLanguage": "en",
                    "securityComplianceNotificationMails": [],
                    "securityComplianceNotificationPhones": [],
                    "state": None,
                    "street": None,
                    "technicalNotificationMails": [],
                    "tenantType": "AAD",
                    "directorySizeQuota": {"used": 3, "total": 50000},
                    "privacyProfile": None,
                    "assignedPlans": [],
                    "onPremisesProvisioningErrors": [],
                    "provisionedPlans": [],
                    "verifiedDomains": [
                        {
                            "capabilities": "Email, OfficeCommunicationsOnlineService",
                            "isDefault": True,
                            "isInitial": True,
                            "name": tenant.domain,
                            "type": "Managed",
                        }
                    ],
                }
            ],
        }
