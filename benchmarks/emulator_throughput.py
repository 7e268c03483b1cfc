"""Token requests per second the demo tenant sustains, beside a do-nothing TLS server.

The demo tenant runs as its own process (`entra-cert-wizard emulator --json`, exactly as a
user starts it); so does the yardstick, a bare stdlib TLS HTTP server on the same stack that
answers every POST with a fixed token-sized JSON body and checks nothing. The clients
(benchmarks/load_clients.py) are raw keep-alive HTTP/1.1 over ssl sockets, threads spread over
several processes, each client posting the client-credentials grant a real MSAL client posts
with its own pre-signed assertion (RS256 + x5t, signed with PyJWT as MSAL does; Entra accepts
an assertion again within its lifetime, and so does the demo tenant). Every request still costs
the demo tenant a full assertion verification and an RS256 access-token signature. A request
counts only if it came back 200 with an access token.

For each level the table shows the CPU the clients and the server used, as a share of one core
over the level's wall time: the clients must stay well below the server, or the figure measures
the clients.

    uv run python benchmarks/emulator_throughput.py [--levels 1,4,16] [--seconds 3]
        [--max-requests 6000] [--rounds 3] [--new-connections] [--quick]

`--quick` is a smoke run (short levels, one round): its figures are not results.
Prints a table and the goal line, then one JSON document on the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load_clients import ClientPool, Target, http_request  # noqa: E402

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

GOAL_RPS = 1000.0
GOAL_CLIENTS = 16
# The clients' processes: 16 clients run as 2 processes of 8 threads.
CLIENT_PROCESSES = 2
YARDSTICK = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from benchmarks import emulator_throughput as t; t.yardstick_main(sys.argv[1:])"
)


def _certificate() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ThroughputBench")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _assertion(key: rsa.RSAPrivateKey, cert: x509.Certificate, info: dict[str, Any]) -> str:
    import jwt

    from wizard import certs

    now = time.time()
    payload = {
        "aud": info["token_endpoint"],
        "iss": info["client_id"],
        "sub": info["client_id"],
        "exp": now + 600,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"x5t": certs.x5t(cert)})


def client_forms(
    info: dict[str, Any], key: rsa.RSAPrivateKey, cert: x509.Certificate, count: int
) -> list[dict[str, str]]:
    """One client-credentials form per client, each with its own freshly signed assertion."""
    return [
        {
            "grant_type": "client_credentials",
            "client_id": str(info["client_id"]),
            "scope": f"{info['graph_resource']}/.default",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": _assertion(key, cert, info),
        }
        for _ in range(count)
    ]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_level(
    pool: ClientPool,
    info: dict[str, Any],
    forms: Sequence[dict[str, str]],
    clients: int,
    seconds: float,
    max_requests: int,
    new_connections: bool = False,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """One concurrency level: `clients` clients (each its own form of `forms`) until the time
    or request bound; requests/s, latency percentiles and the clients' and server's CPU."""
    if len(forms) < clients:
        raise ValueError(f"{clients} clients need {clients} forms, not {len(forms)}")
    url = urllib.parse.urlsplit(str(info["token_endpoint"]))
    host = url.hostname or "127.0.0.1"
    target = Target(host, url.port or 443, host, str(info["ca_bundle"]))
    requests = [
        http_request(url.path, url.netloc, urllib.parse.urlencode(form).encode("ascii"))
        for form in forms[:clients]
    ]
    server_before = float("nan")

    def count_from_here() -> None:  # connections made and warmed up: the clock starts
        nonlocal server_before
        server_before = process_cpu_seconds(server_pid) if server_pid else float("nan")

    latencies, failures, wall, client_cpu = pool.run(
        target, requests, seconds, max_requests, new_connections=new_connections,
        on_start=count_from_here,
    )
    server_cpu = (process_cpu_seconds(server_pid) if server_pid else float("nan")) - server_before
    return {
        "clients": clients,
        "connections": "new" if new_connections else "keep-alive",
        "requests": len(latencies),
        "failures": failures,
        "seconds": round(wall, 3),
        "requests_per_second": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2) if latencies else None,
        # Shares of one core over the level's wall time (2.0 = both cores of a 2-core machine).
        "client_cpu": round(client_cpu / wall, 3) if wall else None,
        "server_cpu": round(server_cpu / wall, 3) if wall and server_cpu == server_cpu else None,
        # The server's CPU per answered request: what the machine's other load disturbs least.
        "server_cpu_ms": (
            round(server_cpu / len(latencies) * 1000, 3)
            if latencies and server_cpu == server_cpu else None
        ),
    }


# ---------------------------------------------------------------------------- the servers


def yardstick_main(argv: Sequence[str]) -> None:
    """Child process: the yardstick. The demo tenant's stack (stdlib ThreadingHTTPServer, TLS
    handshake in the connection's thread, HTTP/1.1 keep-alive, TCP_NODELAY, headers and body in
    one write) answering every POST with a fixed token-sized JSON body, checking nothing.
    argv: certificate file, key file."""
    import socket
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    cert, key = argv
    body = json.dumps({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                       "access_token": "x" * 1400}).encode()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            # Headers and body in one write (one TLS record), as the demo tenant sends them.
            self._headers_buffer.append(b"\r\n" + body)  # type: ignore[attr-defined]
            self.flush_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

        def finish_request(self, request: Any, client_address: Any) -> None:
            sock: socket.socket = request
            sock.settimeout(15)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                tls = context.wrap_socket(sock, server_side=True)
            except OSError:
                return
            try:
                Handler(tls, client_address, self)
            finally:
                with contextlib.suppress(OSError):
                    tls.close()

    server = Server(("127.0.0.1", 0), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


@contextlib.contextmanager
def serving(command: Sequence[str], env: dict[str, str]) -> Iterator[tuple[dict[str, Any], int]]:
    """A server process that prints one JSON line once it listens: (that line, its pid)."""
    process = subprocess.Popen(list(command), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{command[0]} did not start (exit {process.wait()})")
        yield dict(json.loads(line)), process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _emulator_command() -> list[str]:
    """`entra-cert-wizard` as a user runs it: the console script of this environment."""
    script = Path(sys.executable).parent / "entra-cert-wizard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "wizard"]


@contextlib.contextmanager
def both_servers(
    workdir: Path, clients: int
) -> Iterator[dict[str, tuple[dict[str, Any], int, list[dict[str, str]]]]]:
    """The demo tenant (with a certificate uploaded) and the yardstick, each as
    name -> (target info, pid, one form per client)."""
    from wizard import certs
    from wizard.emulator.tls import SERVER_FILE, SERVER_KEY_FILE
    from wizard.portal import PortalClient

    state = workdir / "state"
    env = {**os.environ, "ENTRA_CERT_WIZARD_HOME": str(workdir / "home")}
    demo_command = [*_emulator_command(), "emulator", "--json", "--state", str(state)]
    with serving(demo_command, env) as (info, demo_pid):
        cert, key = _certificate()
        PortalClient(str(info["portal"]), str(info["ca_bundle"])).upload_certificate(
            str(info["client_id"]), certs.cert_der(cert)
        )
        forms = client_forms(info, key, cert, clients)
        yardstick_command = [sys.executable, "-c", YARDSTICK.format(root=str(ROOT)),
                             str(state / SERVER_FILE), str(state / SERVER_KEY_FILE)]
        with serving(yardstick_command, env) as (bare, bare_pid):
            bare_info = {**info, "token_endpoint": f"https://127.0.0.1:{bare['port']}/token"}
            yield {"demo": (info, demo_pid, forms), "yardstick": (bare_info, bare_pid, forms)}


# ---------------------------------------------------------------------------- the goal


@dataclass(frozen=True)
class Primitives:
    """The two RSA operations of every token request, timed alone in this process (CPU ms,
    median of several batches): the access token's RS256 signature (2048-bit key, a token's
    worth of claims) and the client assertion's parse and signature check."""

    sign_ms: float
    verify_ms: float


def measure_primitives(batches: int = 5, count: int = 30) -> Primitives:
    from wizard.emulator import jose

    cert, key = _certificate()
    claims = {f"claim{index}": uuid.uuid4().hex for index in range(24)}  # ~1.4 KB, as issued
    header = {"typ": "JWT", "alg": "RS256", "x5t": "x" * 27, "kid": "x" * 27}
    info = {"token_endpoint": "https://127.0.0.1/t/oauth2/v2.0/token", "client_id": "c"}
    assertion = _assertion(key, cert, info)
    public = key.public_key()

    def sign() -> None:
        jose.sign_rs256(key, header, claims)

    def verify() -> None:
        jws = jose.parse_compact(assertion)
        assert jose.verify_signature("RS256", public, jws.signing_input, jws.signature)

    def cpu_ms(operation: Any) -> float:
        samples = []
        for _ in range(batches):
            started = time.process_time()
            for _ in range(count):
                operation()
            samples.append((time.process_time() - started) / count * 1000)
        return statistics.median(samples)

    return Primitives(sign_ms=cpu_ms(sign), verify_ms=cpu_ms(verify))


@dataclass
class Goal:
    """The demo tenant at GOAL_CLIENTS keep-alive clients, beside the yardstick, over rounds."""

    rounds: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    quick: bool = False
    # The machine's load average (1 min) before and after: the clients and servers share it.
    load: tuple[float, float] = (0.0, 0.0)
    primitives: Primitives | None = None

    def values(self, server: str, key: str) -> list[float]:
        return [float(r[server][key]) for r in self.rounds if r[server][key] is not None]

    def median(self, server: str, key: str) -> float:
        values = self.values(server, key)
        return statistics.median(values) if values else float("nan")

    @property
    def ratio(self) -> float:
        """Measured token requests/s over the goal's 1,000 (>= 1 is met)."""
        return self.median("demo", "requests_per_second") / GOAL_RPS

    @property
    def met(self) -> bool:
        return self.ratio >= 1.0

    @property
    def client_cpu_ms(self) -> float:
        """The clients' CPU per answered request (they share the machine with the server)."""
        per_round = [r["demo"]["client_cpu"] / r["demo"]["requests_per_second"] * 1000
                     for r in self.rounds
                     if r["demo"]["client_cpu"] is not None and r["demo"]["requests_per_second"]]
        return statistics.median(per_round) if per_round else float("nan")

    @property
    def ceiling(self) -> float:
        """Token requests/s all of this machine's cores could serve at the measured CPU per
        request of the server and the clients together, if nothing else ran."""
        per_request = self.median("demo", "server_cpu_ms") + self.client_cpu_ms
        return (os.cpu_count() or 1) * 1000 / per_request

    def split(self) -> str:
        """Where the server's CPU per request goes: the two RSA operations timed alone, TLS
        and HTTP as the yardstick spends them, and the rest (the checks' and the token's
        Python, thread switching) by difference."""
        if self.primitives is None:
            return ""
        server = self.median("demo", "server_cpu_ms")
        http = self.median("yardstick", "server_cpu_ms")
        sign, verify = self.primitives.sign_ms, self.primitives.verify_ms
        return (f"server CPU per request {server:.2f} ms = RS256 sign {sign:.2f} + assertion "
                f"check {verify:.2f} + TLS and HTTP {http:.2f} (the yardstick's) + the rest "
                f"{server - sign - verify - http:.2f} (checks, claims, JSON, threads)")

    def line(self) -> str:
        rates = self.values("demo", "requests_per_second")
        cores = os.cpu_count()
        text = (
            f"demo tenant >= {GOAL_RPS:,.0f} token requests/s at {GOAL_CLIENTS} keep-alive "
            f"clients (warm: server started and every connection made before the clock): "
            f"{self.median('demo', 'requests_per_second'):,.0f}/s, ratio to goal "
            f"{self.ratio:.2f} ({'met' if self.met else 'NOT met'}), "
            f"min-max {min(rates, default=0):,.0f}-{max(rates, default=0):,.0f}, n={len(rates)}; "
            f"p50 {self.median('demo', 'p50_ms'):.1f} ms, p99 {self.median('demo', 'p99_ms'):.1f} ms; "
            f"CPU client {self.median('demo', 'client_cpu'):.2f} / server "
            f"{self.median('demo', 'server_cpu'):.2f} of {cores} cores; yardstick "
            f"{self.median('yardstick', 'requests_per_second'):,.0f}/s (CPU client "
            f"{self.median('yardstick', 'client_cpu'):.2f} / server "
            f"{self.median('yardstick', 'server_cpu'):.2f}); "
            + (self.split() or f"server CPU per request {self.median('demo', 'server_cpu_ms'):.2f} ms")
            + f", clients {self.client_cpu_ms:.2f} ms; so {cores} idle cores would serve at most "
            f"{self.ceiling:,.0f}/s; load average {self.load[0]:.1f} before, {self.load[1]:.1f} after"
        )
        return text + (" [--quick: smoke only, not a result]" if self.quick else "")

    def to_json(self) -> dict[str, Any]:
        return {"goal_rps": GOAL_RPS, "clients": GOAL_CLIENTS, "ratio": round(self.ratio, 3),
                "met": self.met, "quick": self.quick, "ceiling_rps": round(self.ceiling, 1),
                "client_cpu_ms": round(self.client_cpu_ms, 3),
                "primitives": dataclasses.asdict(self.primitives) if self.primitives else None,
                "load_average": list(self.load), "rounds": self.rounds}


def measure_goal(
    workdir: Path, *, rounds: int = 3, seconds: float = 3.0, max_requests: int = 6000,
    quick: bool = False,
) -> Goal:
    """The throughput goal, measured: demo tenant and yardstick alternately, `rounds` times.
    benchmarks/run.py calls this and prints `Goal.line()`."""
    goal = Goal(quick=quick)
    before = os.getloadavg()[0]
    with both_servers(workdir, GOAL_CLIENTS) as servers, ClientPool(CLIENT_PROCESSES) as pool:
        for _ in range(rounds):
            goal.rounds.append({
                name: run_level(pool, info, forms, GOAL_CLIENTS, seconds, max_requests,
                                server_pid=pid)
                for name, (info, pid, forms) in servers.items()
            })
    goal.primitives = measure_primitives()
    goal.load = (before, os.getloadavg()[0])
    return goal


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="1,4,16", help="concurrent clients per run")
    parser.add_argument("--seconds", type=float, default=3.0, help="time bound per level")
    parser.add_argument("--max-requests", type=int, default=6000, help="request bound per level")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the goal level")
    parser.add_argument("--new-connections", action="store_true",
                        help="open a new HTTPS connection for every request (TLS handshake included)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 s levels, one round; the figures are not results")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.max_requests, args.rounds = 1.0, 1000, 1
    levels = [int(level) for level in args.levels.split(",")]

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ecw-bench-") as folder:
        with both_servers(Path(folder), max(levels)) as servers, \
                ClientPool(CLIENT_PROCESSES) as pool:
            for level in levels:
                for name, (info, pid, forms) in servers.items():
                    row = run_level(pool, info, forms, level, args.seconds, args.max_requests,
                                    args.new_connections, server_pid=pid)
                    rows.append({"server": name, **row})
        goal = measure_goal(Path(folder) / "goal", rounds=args.rounds, seconds=args.seconds,
                            max_requests=args.max_requests, quick=args.quick)

    load = os.getloadavg()[0]
    mode = "a new connection per request" if args.new_connections else "keep-alive"
    print(f"token endpoint ({mode}), Python {platform.python_version()} on "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f}"
          + (" -- QUICK: smoke only, not results" if args.quick else ""))
    print("cpu cl / cpu sv: the clients' and the server's CPU in cores over the level's wall time")
    print(f"{'server':>9} {'clients':>7} {'requests':>8} {'fail':>4} {'req/s':>7} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'cpu cl':>6} {'cpu sv':>6} {'sv ms/req':>9}")
    for row in rows:
        print(f"{row['server']:>9} {row['clients']:>7} {row['requests']:>8} {row['failures']:>4} "
              f"{row['requests_per_second']:>7} {row['p50_ms']!s:>7} {row['p99_ms']!s:>7} "
              f"{row['client_cpu']!s:>6} {row['server_cpu']!s:>6} {row['server_cpu_ms']!s:>9}")
    print(goal.line())
    print(json.dumps({"benchmark": "emulator_throughput", "cpus": os.cpu_count(),
                      "quick": args.quick, "results": rows, "goal": goal.to_json()}))
    return 0 if all(row["failures"] == 0 for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
