"""The ID fields: tolerant of what people paste, precise about what is wrong."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wizard.entra_portal import CLIENT_ID_LABEL, TENANT_ID_LABEL
from wizard.errors import UserError
from wizard.inputs import (
    client_id_problem,
    normalize_client_id,
    normalize_tenant,
    normalize_thumbprint,
    tenant_problem,
    thumbprint_problem,
)

GUID = "1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d"
THUMBPRINT = "DB36EC94A88BCB42D15CAE0A40BA16A7757BB1E0"

# What rides along when copying from portals, mails, chats and PDFs.
INVISIBLE = ["\u200e", "\u200f", "\ufeff", "\u200b", "\u2060", "\u00ad"]
SPACES = [" ", "\t", "\n", "\r\n", "\u00a0", "\u202f", "\u3000"]
WRAPPERS = [
    ("", ""),
    ('"', '"'),
    ("'", "'"),
    ("{", "}"),
    ("“", "”"),
    ("‘", "’"),
    ("<", ">"),
    ("`", "`"),
]

junk = st.lists(st.sampled_from(INVISIBLE + SPACES), max_size=4).map("".join)
wrapper = st.sampled_from(WRAPPERS)


def pasted(value: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    """(the value, the value as pasted: junk, wrappers, case changes, trailing newline)."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, str]:
        clean = draw(value)
        shown = draw(st.sampled_from([clean, clean.upper(), clean.lower()]))
        left, right = draw(wrapper)
        text = draw(junk) + left + draw(junk) + shown + draw(junk) + right + draw(junk)
        if draw(st.booleans()):
            text += "\n"
        return clean, text

    return build()


guids = st.uuids().map(str)
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
domains = st.builds(
    lambda parts, tld: ".".join([*parts, tld]),
    st.lists(labels, min_size=1, max_size=3),
    st.sampled_from(["com", "onmicrosoft.com", "de", "co.uk", "org"]),
)
thumbprints = st.binary(min_size=20, max_size=20).map(lambda b: b.hex().upper())


@given(pasted(guids))
def test_any_pasted_client_id_is_accepted_and_canonical(case: tuple[str, str]) -> None:
    clean, text = case
    assert client_id_problem(text) is None
    assert normalize_client_id(text) == clean.lower()


@given(pasted(guids))
def test_any_pasted_tenant_guid_is_accepted(case: tuple[str, str]) -> None:
    clean, text = case
    assert normalize_tenant(text) == clean.lower()


@given(pasted(domains))
def test_any_pasted_domain_is_accepted_lowercase(case: tuple[str, str]) -> None:
    clean, text = case
    assert tenant_problem(text) is None
    assert normalize_tenant(text) == clean.lower()


@given(thumbprints, st.sampled_from(["", " ", ":", "-"]), st.booleans(), junk)
def test_any_notation_of_a_thumbprint_is_accepted(
    value: str, separator: str, lower: bool, noise: str
) -> None:
    shown = value.lower() if lower else value
    text = noise + separator.join(shown[i : i + 2] for i in range(0, 40, 2)) + noise
    assert thumbprint_problem(text) is None
    assert normalize_thumbprint(text) == value


@given(st.text(max_size=80))
def test_arbitrary_text_never_crashes_and_problem_agrees_with_normalize(text: str) -> None:
    for problem, normalize in (
        (client_id_problem, normalize_client_id),
        (tenant_problem, normalize_tenant),
        (thumbprint_problem, normalize_thumbprint),
    ):
        message = problem(text)
        if message is None:
            value = normalize(text)
            assert value and normalize(value) == value  # canonical: normalising is idempotent
        else:
            assert message.strip()
            with pytest.raises(UserError) as raised:
                normalize(text)
            assert raised.value.message == message
            assert raised.value.exit_code == 2


@given(guids)
def test_guid_without_hyphens_is_accepted(value: str) -> None:
    assert normalize_client_id(value.replace("-", "")) == value


def test_a_whole_portal_line_is_accepted() -> None:
    assert normalize_client_id(f"Application (client) ID : {GUID}") == GUID
    assert normalize_tenant(f"Directory (tenant) ID\t{GUID}".replace("\t", ": ")) == GUID


def test_word_processor_dashes_and_full_width_digits_are_folded() -> None:
    assert normalize_client_id(GUID.replace("-", "\u2013")) == GUID
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in GUID)
    assert normalize_client_id(full_width) == GUID


@pytest.mark.parametrize("text", ["", "   ", "\u200e\ufeff", '""', "{}"])
def test_empty_input_says_where_to_find_the_value(text: str) -> None:
    assert CLIENT_ID_LABEL in (client_id_problem(text) or "")
    assert TENANT_ID_LABEL in (tenant_problem(text) or "")
    assert "Overview" in (client_id_problem(text) or "")


def test_messages_name_the_portal_field() -> None:
    assert CLIENT_ID_LABEL in (client_id_problem("hello world") or "")
    assert TENANT_ID_LABEL in (tenant_problem("hello world") or "")


def test_secret_value_is_recognised_not_echoed_as_an_id() -> None:
    secret = "abc8Q~Xy1zAbCdEfGhIjKlMnOpQrStUvWxYz0123"
    for message in (client_id_problem(secret), tenant_problem(secret)):
        assert message is not None and "client secret value" in message
        assert secret not in message


def test_email_address_suggests_its_domain_for_the_tenant() -> None:
    message = tenant_problem("Admin@Contoso.com")
    assert message is not None and "e-mail address" in message and "contoso.com" in message
    client = client_id_problem("admin@contoso.com")
    assert client is not None and "e-mail address" in client


def test_sign_in_url_yields_its_tenant() -> None:
    assert (
        normalize_tenant(
            "https://login.microsoftonline.com/Contoso.onmicrosoft.com/oauth2/v2.0/token"
        )
        == "contoso.onmicrosoft.com"
    )
    assert normalize_tenant(f"https://login.microsoftonline.us/{GUID.upper()}/v2.0") == GUID
    assert normalize_tenant(f"login.partner.microsoftonline.cn/{GUID}") == GUID


def test_sign_in_url_with_common_is_refused() -> None:
    message = tenant_problem("https://login.microsoftonline.com/common/oauth2/v2.0/authorize")
    assert message is not None and "web address" in message


def test_client_id_from_a_url() -> None:
    authorize = f"https://login.microsoftonline.com/x/oauth2/v2.0/authorize?client_id={GUID}&x=1"
    assert normalize_client_id(authorize) == GUID
    portal = (
        "https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/"
        f"Overview/appId/{GUID}/isMSAApp~/false"
    )
    assert normalize_client_id(portal) == GUID
    message = client_id_problem("https://example.com/")
    assert message is not None and "web address" in message


def test_other_urls_get_a_specific_message() -> None:
    sharepoint = tenant_problem("https://contoso-admin.sharepoint.com/_layouts")
    assert sharepoint is not None and "contoso.onmicrosoft.com" in sharepoint
    assert "web address" in (tenant_problem("https://example.com/page") or "")


@pytest.mark.parametrize("reserved", ["common", "organizations", "Consumers"])
def test_multi_tenant_aliases_are_not_tenants(reserved: str) -> None:
    message = tenant_problem(reserved)
    assert message is not None and "not a tenant" in message


def test_bare_name_suggests_onmicrosoft_domain() -> None:
    assert "contoso.onmicrosoft.com" in (tenant_problem("Contoso") or "")


def test_thumbprint_in_the_client_id_field() -> None:
    assert "thumbprint" in (client_id_problem(THUMBPRINT) or "")
    assert "thumbprint" in (tenant_problem(THUMBPRINT) or "")
    assert "SHA-256" in (client_id_problem("AB" * 32) or "")


def test_domain_in_the_client_id_field_points_to_the_tenant_field() -> None:
    message = client_id_problem("contoso.onmicrosoft.com")
    assert message is not None and TENANT_ID_LABEL in message


def test_cut_off_guid_says_which_group_is_short() -> None:
    message = client_id_problem(GUID[:-1])
    assert message is not None and "8-4-4-4-11" in message


def test_letters_beyond_f_are_named() -> None:
    message = client_id_problem(GUID[:-2] + "xO")
    assert message is not None and "'o'" in message and "'x'" in message


def test_internationalised_domains_become_punycode() -> None:
    assert normalize_tenant("Müller.de") == "xn--mller-kva.de"


@pytest.mark.parametrize(
    "text", ["1.2.3.4", "a..b", "-bad.com", "under_score.com", "x" * 70 + ".com"]
)
def test_non_domains_are_refused(text: str) -> None:
    assert tenant_problem(text) is not None


def test_thumbprint_messages() -> None:
    assert "SHA-256" in (thumbprint_problem("AB" * 32) or "")
    assert "39" in (thumbprint_problem(THUMBPRINT[:-1]) or "")
    assert "'G'" in (thumbprint_problem(THUMBPRINT[:-1] + "G") or "")
    assert "not a Thumbprint" in (thumbprint_problem("hello there, world") or "")
    assert normalize_thumbprint(f"SHA1 Thumbprint: {THUMBPRINT.lower()}") == THUMBPRINT


def test_uuid_module_round_trip() -> None:
    value = uuid.uuid4()
    assert normalize_client_id("{" + str(value).upper() + "}") == str(value)
