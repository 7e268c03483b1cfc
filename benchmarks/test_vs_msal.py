"""Wall time of a full `entra-cert-wizard test` against a bare MSAL script, side by side.

Run: uv run python benchmarks/test_vs_msal.py [--runs 5] [--cold] [--json-only]

Bytecode: warm by default (every process reads .pyc files from a private PYTHONPYCACHEPREFIX
folder, filled by a warm-up run of each case), as every start after the first; --cold
compiles every module on every start (PYTHONDONTWRITEBYTECODE=1, an empty folder).

What is measured (whole processes, started fresh every run, median of --runs):
  wizard --demo     `entra-cert-wizard test --demo --cert X --key Y`: starts its own demo
                    tenant (same persistent state), positive + negative test, stops it.
  wizard custom     `entra-cert-wizard test --authority-host ... --ca-bundle ...` against the
                    already running demo tenant: the tool's own cost without a tenant start.
  bare MSAL         a plain Python script with msal + requests against the same running demo
                    tenant, making the same requests: the certificate token + the Graph call,
                    the no-credential POST, and the two MSAL token requests of the negative test
                    (a throwaway key is generated, as the tool does). No checks, no output.

The demo tenant for "wizard custom" and "bare MSAL" is `entra-cert-wizard emulator --json`,
running in its own process for the whole benchmark. Everything stays on this machine.
Not a pytest test (benchmarks/ is outside testpaths); the name is the one the task asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BARE_MSAL_SCRIPT = r'''
import sys, json, requests, msal
from cryptography import x509
from cryptography.hazmat.primitives import serialization, hashes
from cryptography.hazmat.primitives.asymmetric import rsa
import datetime as dt
cfg = json.loads(sys.argv[1])
session = requests.Session(); session.verify = cfg["ca_bundle"]; session.trust_env = False
key = serialization.load_pem_private_key(open(cfg["key"], "rb").read(), None)
cert_pem = open(cfg["cert"]).read()
scope = [cfg["graph_resource"] + "/.default"]

def app(private_key, certificate_pem):
    return msal.ConfidentialClientApplication(
        cfg["client_id"], authority=cfg["authority"], http_client=session,
        client_credential={"private_key": private_key, "public_certificate": certificate_pem},
        instance_discovery=False, token_cache=msal.TokenCache())

token = app(key, cert_pem).acquire_token_for_client(scopes=scope)["access_token"]
org = session.get(cfg["graph_endpoint"] + "/v1.0/organization",
                  headers={"Authorization": "Bearer " + token}, timeout=20).json()
assert org["value"][0]["displayName"]
r = session.post(cfg["token_endpoint"], data={"client_id": cfg["client_id"],
                 "scope": scope[0], "grant_type": "client_credentials"}, timeout=20)
assert "access_token" not in r.json()
other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
cert = x509.load_pem_x509_certificate(cert_pem.encode())
now = dt.datetime.now(dt.timezone.utc)
stranger = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.subject)
            .public_key(other.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(other, hashes.SHA256()))
stranger_pem = stranger.public_bytes(serialization.Encoding.PEM).decode()
assert "access_token" not in app(other, stranger_pem).acquire_token_for_client(scopes=scope)
assert "access_token" not in app(other, cert_pem).acquire_token_for_client(scopes=scope)
'''


def timed(argv: list[str], env: dict[str, str], expect: int = 0) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    if done.returncode != expect:
        raise SystemExit(
            f"{argv[:4]}... exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true",
                        help="no bytecode: every module compiled on every start")
    parser.add_argument("--json-only", action="store_true")
    options = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="ecw-bench-"))
    pycache = home / "pycache"
    pycache.mkdir()
    env = {**os.environ, "ENTRA_CERT_WIZARD_HOME": str(home), "PYTHONPYCACHEPREFIX": str(pycache)}
    if options.cold:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["ENTRA_CERT_WIZARD_HOME"] = str(home)
    from wizard import certs
    from wizard.portal import PortalClient

    emulator = subprocess.Popen(
        [sys.executable, "-m", "wizard", "emulator", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        info: dict[str, Any] = json.loads(emulator.stdout.readline())
        generated = certs.generate_certificate("BenchmarkCert", days=90)
        folder = home / "files"
        folder.mkdir()
        pem, key = folder / "bench.pem", folder / "bench.key"
        pem.write_bytes(certs.cert_pem(generated.certificate))
        key.write_bytes(certs.key_pem(generated.private_key, None))
        PortalClient(str(info["portal"]), str(info["ca_bundle"])).upload_certificate(
            str(info["client_id"]), certs.cert_der(generated.certificate)
        )
        wizard = [sys.executable, "-m", "wizard", "test", "--cert", str(pem), "--key", str(key)]
        cases: dict[str, list[str]] = {
            "wizard test --demo (whole process)": [*wizard, "--demo"],
            "wizard test, running demo tenant": [
                *wizard,
                "--authority-host", str(info["authority_host"]),
                "--graph-endpoint", str(info["graph_endpoint"]),
                "--ca-bundle", str(info["ca_bundle"]),
                "--tenant", str(info["tenant_id"]),
                "--client-id", str(info["client_id"]),
            ],
            "bare MSAL script, running demo tenant": [
                sys.executable, "-c", BARE_MSAL_SCRIPT,
                json.dumps({**info, "cert": str(pem), "key": str(key)}),
            ],
        }
        for argv in cases.values():  # the file cache, the demo state; the bytecode when warm
            timed(argv, env)
        timings: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(options.runs):
            for name, argv in cases.items():  # interleaved, so drift hits every case alike
                timings[name].append(timed(argv, env))
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)

    rows: dict[str, dict[str, Any]] = {
        name: {
            "median_s": round(statistics.median(values), 3),
            "min_s": round(min(values), 3),
            "max_s": round(max(values), 3),
            "runs": [round(v, 3) for v in values],
        }
        for name, values in timings.items()
    }
    bare = rows["bare MSAL script, running demo tenant"]["median_s"]
    for row in rows.values():
        row["vs_bare_msal"] = round(float(row["median_s"]) / float(bare), 2)
    if not options.json_only:
        print(f"{'cold (no bytecode)' if options.cold else 'warm bytecode'}, "
              f"n={options.runs} paired rounds")
        print(f"{'case':<42} {'median':>8} {'min':>8} {'max':>8} {'x MSAL':>7}")
        for name, row in rows.items():
            print(
                f"{name:<42} {row['median_s']:>7.3f}s {row['min_s']:>7.3f}s "
                f"{row['max_s']:>7.3f}s {row['vs_bare_msal']:>7.2f}"
            )
        print()
    print(json.dumps({"runs": options.runs, "bytecode": "cold" if options.cold else "warm",
                      "python": sys.version.split()[0], "cases": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
