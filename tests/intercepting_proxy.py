"""A TLS-intercepting HTTPS proxy, like the ones in front of many corporate networks.

It answers CONNECT, optionally asks for Basic credentials first (407 without them), and
re-signs the host's TLS with certificates from its own throwaway CA: the client must trust
that CA (--ca-bundle, REQUESTS_CA_BUNDLE, SSL_CERT_FILE...). Behind it, the hosts it knows
(login.microsoftonline.com, graph.microsoft.com, ...) go to a local demo tenant started with
public_hosts=True, over a second TLS connection that checks the tenant's own certificate
for that name; any other host answers 502, so nothing ever leaves the machine.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import ipaddress
import socket
import socketserver
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HEADER_LIMIT = 65536


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class ThrowawayCa:
    """The proxy's own CA, and one leaf certificate per intercepted host (cached)."""

    def __init__(self, folder: Path) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self.folder = folder
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("Intercepting Proxy Test CA"))
            .issuer_name(_name("Intercepting Proxy Test CA"))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = folder / "proxy-ca.pem"
        self.ca_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def server_context(self, host: str) -> ssl.SSLContext:
        """A TLS server context presenting a certificate for `host`, signed by this CA."""
        with self._lock:
            context = self._contexts.get(host)
            if context is None:
                context = self._contexts[host] = self._make_context(host)
            return context

    def _make_context(self, host: str) -> ssl.SSLContext:
        now = dt.datetime.now(dt.timezone.utc)
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            san = x509.DNSName(host)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(self.certificate.subject)
            .public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        chain = self.folder / f"leaf-{host}.pem"
        key_file = self.folder / f"leaf-{host}.key"
        chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(_pem_key(self._leaf_key))
        key_file.chmod(0o600)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key_file)
        return context


@dataclass
class ProxyLog:
    """What the proxy saw: the CONNECT targets it was asked for, and the 407s it sent."""

    connects: list[str] = field(default_factory=list)
    refused_auth: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hosts(self) -> set[str]:
        with self.lock:
            return {target.rsplit(":", 1)[0] for target in self.connects}


class _Handler(socketserver.BaseRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(30)
        head = self._read_head(client)
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        target = rest.rsplit(" ", 1)[0]
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        proxy = self.server.proxy
        if proxy.credentials is not None and headers.get("proxy-authorization") != (
            "Basic " + base64.b64encode(proxy.credentials.encode()).decode()
        ):
            with proxy.log.lock:
                proxy.log.refused_auth += 1
            client.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="corporate proxy"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        with proxy.log.lock:
            proxy.log.connects.append(target)
        upstream_address = proxy.routes.get(host.lower())
        if upstream_address is None or port != "443":
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            inner = proxy.ca.server_context(host).wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client did not trust our CA: it says so itself
        upstream = _Upstream(host, upstream_address, proxy.upstream_context)
        try:
            _forward_requests(inner, upstream)
        finally:
            upstream.close()
            with contextlib.suppress(OSError):
                inner.close()

    @staticmethod
    def _read_head(client: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                chunk = client.recv(1)  # byte by byte: nothing after the head is consumed
            except OSError:
                return None
            if not chunk or len(data) > HEADER_LIMIT:
                return None
            data += chunk
        return data.split(b"\r\n\r\n", 1)[0]


class _Upstream(http.client.HTTPSConnection):
    """A connection to the host's stand-in that checks TLS for the host's own name."""

    def __init__(
        self, host: str, address: tuple[str, int], context: ssl.SSLContext
    ) -> None:
        super().__init__(host, 443, context=context, timeout=60)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection(self._address, timeout=self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _forward_requests(client: ssl.SSLSocket, upstream: _Upstream) -> None:
    """Read each decrypted request, send it on, write the answer back (one thread, one
    request at a time, as an inspecting proxy does); stop when either side closes."""
    reader = client.makefile("rb")
    while True:
        request_line = reader.readline(HEADER_LIMIT)
        if not request_line.strip():
            return
        method, path, _version = request_line.decode("latin-1").split(" ", 2)
        headers: list[tuple[str, str]] = []
        while True:
            line = reader.readline(HEADER_LIMIT)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        length = next((int(v) for n, v in headers if n.lower() == "content-length"), 0)
        body = reader.read(length) if length else None
        try:
            upstream.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                upstream.putheader(name, value)
            upstream.endheaders(body)
            answer = upstream.getresponse()
            content = answer.read()
        except (OSError, http.client.HTTPException):
            return  # upstream reset or broke off: so does the connection to the client
        head = [f"HTTP/1.1 {answer.status} {answer.reason}"]
        head += [
            f"{name}: {value}"
            for name, value in answer.getheaders()
            if name.lower() not in ("transfer-encoding", "content-length", "connection")
        ]
        head.append(f"Content-Length: {len(content)}")
        client.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + content)
        if answer.will_close:
            upstream.close()


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: InterceptingProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy


class InterceptingProxy:
    """`with InterceptingProxy(routes, upstream_ca) as proxy: proxy.url ...`.

    `routes` maps host names to the (address, port) that answers for them; `upstream_ca` is
    the CA bundle that upstream's certificates chain to; `credentials` ("user:password")
    makes the proxy answer 407 to a CONNECT without them.
    """

    def __init__(
        self,
        routes: dict[str, tuple[str, int]],
        upstream_ca: str,
        *,
        credentials: str | None = None,
        folder: Path | None = None,
    ) -> None:
        self._folder = None if folder is not None else tempfile.TemporaryDirectory()
        where = folder if folder is not None else Path(self._folder.name)  # type: ignore[union-attr]
        self.ca = ThrowawayCa(where)
        self.routes = {host.lower(): address for host, address in routes.items()}
        self.credentials = credentials
        self.upstream_context = ssl.create_default_context(cafile=upstream_ca)
        self.log = ProxyLog()
        self._server = _ProxyServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="intercepting-proxy", daemon=True
        )

    @property
    def ca_file(self) -> Path:
        return self.ca.ca_file

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, credentials: str | None = None) -> str:
        """The proxy URL for HTTPS_PROXY, with `user:password@` when credentials are given."""
        auth = f"{credentials}@" if credentials else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def __enter__(self) -> InterceptingProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._folder is not None:
            self._folder.cleanup()
