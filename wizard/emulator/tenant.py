"""The demo tenant's life cycle: start it on a port, describe it (DemoInfo), stop it.

`DemoTenant` owns what a running tenant is made of: its directory (apps, keys, persisted
state), the token issuer, the TLS files, the active fault, and the server that answers
through the router.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import secrets
import socket
import threading
from pathlib import Path
from types import TracebackType

from wizard.emulator import router
from wizard.emulator._files import ensure_private_dir, state_lock
from wizard.emulator.device_code import DeviceCodes
from wizard.emulator.device_login import DEVICE_LOGIN_PATH
from wizard.emulator.directory import GRAPH_RESOURCE, Directory
from wizard.emulator.faults import Fault, FaultSwitch
from wizard.emulator.graph_routes import GRAPH_PREFIX
from wizard.emulator.info import DemoInfo
from wizard.emulator.portal_routes import PORTAL_PREFIX
from wizard.emulator.tls import TlsFiles, ensure_tls
from wizard.emulator.tokens import TokenIssuer
from wizard.emulator.transport import TlsServer
from wizard.emulator.users import AppScopes, DemoUser, demo_users
from wizard.errors import UserError
from wizard.threads import finish_before_exit

log = logging.getLogger("wizard.emulator")

LOOPBACK_NAMES = ("localhost", "localhost.")
# The global cloud's sign-in hosts (Entra's instance discovery lists them as one alias
# group) and Graph: the names a --public-hosts tenant answers as.
PUBLIC_LOGIN_HOST = "login.microsoftonline.com"
PUBLIC_LOGIN_ALIASES = (
    PUBLIC_LOGIN_HOST,
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
)
PUBLIC_GRAPH_HOST = "graph.microsoft.com"


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
        public_hosts: bool = False,
    ) -> None:
        if state_dir is None:
            from wizard.paths import demo_tenant_dir

            state_dir = demo_tenant_dir()
        if not allow_remote and not is_loopback(host):
            raise UserError(
                f"The demo tenant only listens on this machine (loopback), not on '{host}'.",
                hint="Use --host 127.0.0.1, or add --allow-remote to serve other machines "
                "(the portal API then needs the admin token printed at start).",
                exit_code=2,
            )
        if public_hosts and not is_loopback(host):
            raise UserError(
                "The demo tenant answers as the public hosts only on this machine (loopback), "
                f"not on '{host}'.",
                hint="Use --host 127.0.0.1 with --public-hosts.",
                exit_code=2,
            )
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self.allow_remote = allow_remote
        self.graph_resource = graph_resource
        self.public_hosts = public_hosts
        self.admin_token: str | None = secrets.token_urlsafe(24) if allow_remote else None
        # Portal tokens that reach one app only (a workshop seat's): token -> client ID.
        self.app_tokens: dict[str, str] = {}
        # Admins whose roles reach some apps only (a workshop seat's), and who owns what.
        self.app_scopes = AppScopes()
        self.faults = FaultSwitch()
        self.device_codes = DeviceCodes()
        self.directory: Directory
        self.issuer: TokenIssuer
        self.tls: TlsFiles
        self.authority_host = ""
        self.listen_url = ""
        self.graph_endpoint = ""
        self.issuer_v2 = ""
        self._server: TlsServer | None = None
        self._thread: threading.Thread | None = None
        self._info: DemoInfo | None = None
        self._audiences: tuple[str, ...] = ()
        self._prepared = False

    def users(self) -> tuple[DemoUser, ...]:
        """Everyone who can sign in: the demo admin and user, then any app-scoped admins."""
        return (*demo_users(self.directory.tenant), *self.app_scopes.users())

    # -- life cycle ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Load the state folder (CA, server and signing keys, apps), making what is missing.

        Made once and reused: the first start generates three RSA keys, later starts load
        them. The work runs in a thread the interpreter waits for at exit (not a daemon), so
        a program that ends while a first start is under way (a wizard closed at once) still
        leaves the state complete, and its next start generates nothing.
        """
        if self._prepared:
            return
        finish_before_exit(self._load_or_make_state, "demo-tenant-state")
        self._prepared = True

    def _load_or_make_state(self) -> None:
        extra = _certificate_names(self.host)
        if self.public_hosts:
            # The proxy in front re-signs with its own CA, but a hosts entry pointing these
            # names here (on port 443) needs a certificate that carries them.
            extra += (*PUBLIC_LOGIN_ALIASES, PUBLIC_GRAPH_HOST)
        ensure_private_dir(self.state_dir)
        with state_lock(self.state_dir):
            self.tls = ensure_tls(self.state_dir, extra)
        self.directory = Directory(self.state_dir)
        with state_lock(self.state_dir):
            self.issuer = TokenIssuer(self.state_dir, self.directory.tenant, self.graph_resource)

    def start(self) -> DemoInfo:
        if self._info is not None:
            return self._info
        bind_host = "127.0.0.1" if self.host.lower() in LOOPBACK_NAMES else self.host.strip("[]")
        self.prepare()
        family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        try:
            server = TlsServer(
                (bind_host, self.port),
                functools.partial(router.respond, self),
                self.tls.server_context(),
                family,
            )
        except OSError as error:
            raise UserError(
                f"The demo tenant could not listen on {bind_host}:{self.port} "
                f"({error.strerror or error}).",
                hint="Choose another --port, or 0 for any free port.",
            ) from None
        port = server.server_address[1]
        url_host = "localhost" if self.host.lower() in LOOPBACK_NAMES else _url_host(self.host)
        listen_url = f"https://{url_host}:{port}"
        if self.public_hosts:
            self.authority_host = f"https://{PUBLIC_LOGIN_HOST}"
            self.graph_endpoint = f"https://{PUBLIC_GRAPH_HOST}"
            # Its own address keeps working too, so one tenant state can be tested both ways.
            login_hosts = (*(f"https://{alias}" for alias in PUBLIC_LOGIN_ALIASES), listen_url)
        else:
            self.authority_host = listen_url
            self.graph_endpoint = listen_url + GRAPH_PREFIX
            login_hosts = (listen_url,)
        self.listen_url = listen_url
        tenant = self.directory.tenant
        self.issuer_v2 = f"{self.authority_host}/{tenant.tenant_id}/v2.0"
        self._audiences = tuple(
            f"{host}/{form}/oauth2/v2.0/token"
            for host in login_hosts
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
            graph_endpoint=self.graph_endpoint,
            graph_resource=self.graph_resource,
            ca_bundle=str(self.tls.ca_bundle),
            client_id=consented.client_id,
            app_name=consented.display_name,
            unconsented_client_id=unconsented.client_id,
            unconsented_app_name=unconsented.display_name,
            portal=listen_url + PORTAL_PREFIX,
            admin_token=self.admin_token,
            jwks_uri=f"{authority}/discovery/v2.0/keys",
            openid_configuration=f"{authority}/v2.0/.well-known/openid-configuration",
            state_dir=str(self.state_dir),
            listen_url=listen_url,
            public_hosts=self.public_hosts,
            device_login=self.authority_host + DEVICE_LOGIN_PATH,
            admin_user=demo_users(tenant)[0].user_principal_name,
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

    # -- what the routes read -------------------------------------------------------------

    def answers_as_graph(self, host_header: str) -> bool:
        """Whether a request's Host names Graph (only a --public-hosts tenant answers so)."""
        name = host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header
        return self.public_hosts and name.lower().rstrip(".") == PUBLIC_GRAPH_HOST

    def login_host_for(self, host_header: str) -> str:
        """The sign-in host to name in answers: with --public-hosts, the alias asked for, or
        the listening address when a client came to it directly."""
        if not self.public_hosts:
            return self.authority_host
        name = host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header
        name = name.lower().rstrip(".")
        return f"https://{name}" if name in PUBLIC_LOGIN_ALIASES else self.listen_url

    def token_audiences(self) -> tuple[str, ...]:
        """The token endpoint URLs a client assertion may name as its audience."""
        return self._audiences
