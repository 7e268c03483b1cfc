"""The throughput benchmark's load clients count only real tokens, each client with its own
assertion (the figures in benchmarks/README.md rest on both)."""

from __future__ import annotations

import ssl
import sys
import urllib.parse
from pathlib import Path

import pytest
from conftest import make_test_certificate

from wizard import certs
from wizard.emulator import DemoInfo
from wizard.portal import PortalClient

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import emulator_throughput as throughput  # noqa: E402
from benchmarks.load_clients import Target, _Connection, http_request  # noqa: E402


@pytest.fixture(scope="module")
def forms(demo_info: DemoInfo, demo_portal: PortalClient) -> list[dict[str, str]]:
    cert, key = make_test_certificate("ThroughputClients")
    demo_portal.upload_certificate(demo_info.client_id, certs.cert_der(cert))
    return throughput.client_forms(demo_info.to_json(), key, cert, 3)


def _request(info: DemoInfo, form: dict[str, str]) -> bytes:
    url = urllib.parse.urlsplit(info.token_endpoint)
    return http_request(url.path, url.netloc, urllib.parse.urlencode(form).encode())


def _connection(info: DemoInfo) -> _Connection:
    url = urllib.parse.urlsplit(info.token_endpoint)
    host = url.hostname or "127.0.0.1"
    context = ssl.create_default_context(cafile=info.ca_bundle)
    return _Connection(Target(host, url.port or 443, host, info.ca_bundle), context)


def test_each_client_has_its_own_assertion(forms: list[dict[str, str]]) -> None:
    assertions = [form["client_assertion"] for form in forms]
    assert len(set(assertions)) == len(assertions)


def test_a_kept_alive_connection_counts_tokens_and_never_a_refusal(
    demo_info: DemoInfo, forms: list[dict[str, str]]
) -> None:
    connection = _connection(demo_info)
    try:
        for form in forms:  # one connection, several requests: keep-alive really kept
            assert connection.exchange(_request(demo_info, form))
            assert connection.open
        refused = {**forms[0], "client_assertion": forms[0]["client_assertion"][:-8] + "AAAAAAAA"}
        assert not connection.exchange(_request(demo_info, refused))  # a 401 is not counted
    finally:
        connection.close()
