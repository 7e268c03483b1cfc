"""Token requests per second the demo tenant sustains, with 1, 4 and 16 concurrent clients.

The demo tenant runs as its own process (`entra-cert-wizard emulator --json`, exactly as a
user starts it); the clients run here, each a thread with its own keep-alive HTTPS session
posting the client-credentials grant a real MSAL client posts (RS256 + x5t assertion,
signed with PyJWT as MSAL does). Every answer is checked: a request counts only if it came
back 200 with an access token. Each concurrency level is bounded (default: 3 s or 400
requests, whichever comes first) after a short warm-up.

Assertions are pre-signed (one per client, reused: Entra accepts a replay within the
lifetime, and so does the demo tenant), so the clients' own RSA signing does not steal CPU
from the server on a small machine. Every request still costs the server a full assertion
verification and an RS256 access-token signature.

    uv run python benchmarks/emulator_throughput.py [--levels 1,4,16] [--seconds 3]
        [--max-requests 400] [--new-connections]

Prints a table, then one JSON document on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wizard import certs  # noqa: E402
from wizard.portal import PortalClient  # noqa: E402


def _certificate() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    import datetime as dt

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


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run_level(
    info: dict[str, Any],
    form: dict[str, str],
    clients: int,
    seconds: float,
    max_requests: int,
    new_connections: bool = False,
) -> dict[str, Any]:
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    issued = 0
    deadline = 0.0

    def next_ticket() -> bool:
        nonlocal issued
        with lock:
            if issued >= max_requests or time.perf_counter() >= deadline:
                return False
            issued += 1
            return True

    def new_session() -> requests.Session:
        http = requests.Session()
        http.verify = info["ca_bundle"]
        http.trust_env = False
        return http

    def token_answer_ok(http: requests.Session) -> bool:
        """One token request; anything but a 200 with a token (or no answer) is a failure."""
        try:
            answer = http.post(info["token_endpoint"], data=form, timeout=30)
            return answer.status_code == 200 and "access_token" in answer.json()
        except (requests.RequestException, ValueError):
            return False

    def client() -> None:
        nonlocal failures
        http = new_session()
        warmed_up = token_answer_ok(http)  # connect + TLS before the clock starts
        ready.wait()  # reached even when the warm-up failed, so the level never hangs
        go.wait()
        if not warmed_up:
            with lock:
                failures += 1
            http.close()
            return
        while next_ticket():
            started = time.perf_counter()
            if new_connections:  # a fresh TCP + TLS handshake per request
                http.close()
                http = new_session()
            ok = token_answer_ok(http)
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    failures += 1
        http.close()

    ready = threading.Barrier(clients + 1)
    go = threading.Event()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    deadline = started + seconds
    go.set()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "connections": "new" if new_connections else "keep-alive",
        "requests": len(latencies),
        "failures": failures,
        "seconds": round(wall, 3),
        "requests_per_second": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2) if latencies else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--levels", default="1,4,16", help="concurrent clients per run (default 1,4,16)"
    )
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="time bound per level (default 3)"
    )
    parser.add_argument(
        "--max-requests", type=int, default=400, help="request bound per level (default 400)"
    )
    parser.add_argument(
        "--new-connections",
        action="store_true",
        help="open a new HTTPS connection for every request (TLS handshake included)",
    )
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    with tempfile.TemporaryDirectory(prefix="ecw-bench-") as home:
        env = {**os.environ, "ENTRA_CERT_WIZARD_HOME": home}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wizard",
                "emulator",
                "--json",
                "--state",
                str(Path(home) / "state"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # its INFO log lines would interleave with the table
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            cert, key = _certificate()
            PortalClient(info["portal"], info["ca_bundle"]).upload_certificate(
                info["client_id"], certs.cert_der(cert)
            )
            form = {
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "scope": info["graph_resource"] + "/.default",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": _assertion(key, cert, info),
            }
            results = [
                run_level(info, form, n, args.seconds, args.max_requests, args.new_connections)
                for n in levels
            ]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)

    mode = "a new connection per request" if args.new_connections else "keep-alive"
    print(
        f"demo tenant token endpoint ({mode}), "
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(
        f"{'clients':>7} {'requests':>8} {'failures':>8} {'seconds':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for row in results:
        print(
            f"{row['clients']:>7} {row['requests']:>8} {row['failures']:>8} {row['seconds']:>7} "
            f"{row['requests_per_second']:>7} {row['p50_ms']!s:>7} {row['p99_ms']!s:>7}"
        )
    print(
        json.dumps({"benchmark": "emulator_throughput", "cpus": os.cpu_count(), "results": results})
    )
    return 0 if all(row["failures"] == 0 for row in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
