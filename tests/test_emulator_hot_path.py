"""What the token endpoint keeps between requests never outlives the directory it came from.

The demo tenant keeps each registered certificate's parsed public key and the directory
read from its state file between requests (the hot path of a load test). A certificate
removed through the portal, or by another process writing the same state folder, must be
refused on the very next request, even on a kept-alive connection reusing the same
assertion (as the throughput benchmark's clients do).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from conftest import DemoCertificate
from test_emulator_helpers import assertion_form, make_assertion, post_token, session

from wizard.emulator import DemoInfo, DemoTenant
from wizard.emulator.directory import Directory
from wizard.emulator.jose import b64url_decode
from wizard.portal import PortalClient

MakeCert = Callable[..., DemoCertificate]


def _reused_assertion(info: DemoInfo, made: DemoCertificate) -> dict[str, str]:
    assertion = make_assertion(
        made.private_key, made.certificate, client_id=info.client_id, audience=info.token_endpoint
    )
    return assertion_form(info.client_id, assertion)


def _refused_as_unknown_key(answer: object, thumbprint: str) -> None:
    body = answer.json()  # type: ignore[attr-defined]
    assert "access_token" not in body, "a removed certificate still got a token"
    assert body["error_codes"] == [700027]
    assert "The key was not found." in body["error_description"]
    assert thumbprint in body["error_description"]


def test_certificate_removed_through_the_portal_is_refused_on_the_next_request(
    demo_info: DemoInfo, demo_certificate: MakeCert, demo_portal: PortalClient
) -> None:
    made = demo_certificate("RemovedThroughPortal")
    form = _reused_assertion(demo_info, made)
    http = session(demo_info)  # one kept-alive connection throughout
    for _ in range(3):  # the key is parsed once, then served from what the tenant keeps
        assert "access_token" in post_token(demo_info, form, http=http).json()
    demo_portal.delete_certificate(demo_info.client_id, made.thumbprint_sha1)
    _refused_as_unknown_key(post_token(demo_info, form, http=http), made.thumbprint_sha1)


def test_certificate_removed_by_another_process_is_refused_on_the_next_request(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    made = demo_certificate("RemovedElsewhere")
    form = _reused_assertion(demo_info, made)
    http = session(demo_info)
    assert "access_token" in post_token(demo_info, form, http=http).json()
    # Another process's view of the same state folder (a second `emulator` on it, say):
    # its change reaches the running tenant only through the state file.
    Directory(Path(demo_info.state_dir)).remove_certificate(
        demo_info.client_id, made.thumbprint_sha1
    )
    _refused_as_unknown_key(post_token(demo_info, form, http=http), made.thumbprint_sha1)


def test_the_date_header_kept_between_answers_is_the_current_second(demo_info: DemoInfo) -> None:
    http = session(demo_info)
    dates = []
    for _ in range(2):
        before = datetime.now(timezone.utc).replace(microsecond=0)
        answer = http.get(demo_info.openid_configuration)
        after = datetime.now(timezone.utc)
        dates.append(parsedate_to_datetime(answer.headers["Date"]))
        assert before <= dates[-1] <= after
        time.sleep(1.1)
    assert dates[1] > dates[0]


def test_every_token_draws_its_own_random_claims(
    demo_tenant: DemoTenant, demo_info: DemoInfo
) -> None:
    """The random claims come from one read per token: each of its own length, none shared
    with another claim of the token or with the next token."""
    app = demo_tenant.directory.application(demo_info.client_id)
    assert app is not None
    first, second = (demo_tenant.issuer.issue(app, demo_info.graph_resource).claims for _ in "ab")
    random_parts = {  # claim -> (prefix, suffix, random bytes behind it)
        "aio": ("", "", 24),
        "rh": ("1.", ".", 48),
        "uti": ("", "", 16),
        "xms_ftd": ("", "", 40),
        "xms_rd": ("0.42LjYBJiOsUoJMLBLiSQ", "", 24),
    }
    seen: set[bytes] = set()
    for claims in (first, second):
        for name, (prefix, suffix, size) in random_parts.items():
            value = claims[name]
            assert value.startswith(prefix) and value.endswith(suffix)
            drawn = b64url_decode(value[len(prefix) : len(value) - len(suffix)])
            assert len(drawn) == size, name
            assert drawn not in seen, name
            seen.add(drawn)
