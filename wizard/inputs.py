"""What people paste into the ID fields, made tolerant: clean what is harmless, explain the rest.

Values come from web portals, e-mails, chat and PDFs, so they arrive wrapped in quotes or
braces, with a trailing newline, a non-breaking space or an invisible direction mark
(U+200E/U+200F) or byte-order mark (U+FEFF). Those are removed silently. Anything that is not
an ID is refused with a message that names the portal field holding the right value, and the
common confusions (a secret value, an e-mail address, a URL, a thumbprint) get their own words.

The `*_problem` predicates return None or the message, for the wizard's input validators; the
`normalize_*` functions return the canonical value or raise UserError with that message.
An Object ID or a secret's ID is a GUID just like the client ID: those mix-ups can't be seen
here, and are caught by the connection test (AADSTS700016) instead.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from urllib.parse import parse_qs, unquote, urlsplit

from wizard.entra_portal import (
    CERTIFICATES_TAB,
    CLIENT_ID_LABEL,
    OVERVIEW,
    TENANT_ID_LABEL,
    THUMBPRINT_LABEL,
)
from wizard.errors import UserError

_WHERE_CLIENT_ID = (
    f"It is on the app registration's Overview page ({OVERVIEW}), labelled "
    f"'{CLIENT_ID_LABEL}'."
)
_WHERE_TENANT = (
    f"It is on the same Overview page, labelled '{TENANT_ID_LABEL}'; a verified domain such "
    "as contoso.onmicrosoft.com works too."
)

# Characters with no width that ride along when copying from web pages and documents.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064"
        "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\ufffe",
    ),
    None,
)
# Hyphen look-alikes that word processors and chat apps substitute.
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
# Wrappers people paste around values: quotes, braces (the registry format of a GUID), brackets.
_WRAPPERS = "\"'`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u00ab\u00bb{}[]()<>"
_TRAILING_PUNCTUATION = ",;"

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_GUIDISH = re.compile(r"[0-9a-z]+(?:-[0-9a-z]+){2,}")
_EMAIL = re.compile(r"[^@\s]+@([^@\s]+)")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SECRETISH = re.compile(r"[A-Za-z0-9_\-.~+/=\[\]:@?]{30,}")
_PREFIX_LABEL = re.compile(r"^[\w\s()/.-]*?:\s*", re.UNICODE)
_RESERVED_TENANTS = {"common", "organizations", "consumers"}
_LOGIN_PATH_TAILS = ("oauth2", "v2.0", "saml2", "wsfed", "federationmetadata", "adminconsent")


def clean_pasted(text: str) -> str:
    """Remove what copying adds: invisible marks, odd spaces and dashes, wrapping quotes/braces.

    NFKC folds full-width letters and non-breaking spaces into their plain forms.
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_DASHES)
    previous = None
    while text != previous:
        previous = text
        text = text.strip().rstrip(_TRAILING_PUNCTUATION).strip()
        if not text:
            break
        if len(text) >= 2 and text[0] in _WRAPPERS and text[-1] in _WRAPPERS:
            text = text[1:-1]
        elif text[:1] in _WRAPPERS and not any(c in _WRAPPERS for c in text[1:]):
            text = text[1:]
        elif text[-1:] in _WRAPPERS and not any(c in _WRAPPERS for c in text[:-1]):
            text = text[:-1]
    return text


def _as_guid(text: str) -> str | None:
    """The canonical (lowercase, hyphenated) GUID in `text`, or None."""
    compact = re.sub(r"\s+", "", text).lower()
    if _GUID.fullmatch(compact):
        return compact
    if _HEX32.fullmatch(compact):
        return "-".join(
            (compact[:8], compact[8:12], compact[12:16], compact[16:20], compact[20:])
        )
    return None


def _strip_label(text: str) -> str:
    """'Application (client) ID: 1b2c...' -> '1b2c...' (a whole portal line copied)."""
    if "://" in text:
        return text
    match = _PREFIX_LABEL.match(text)
    if match and match.end() < len(text):
        return text[match.end() :].strip()
    return text


def _looks_like_secret(text: str) -> bool:
    """A client secret *value*: ~40 characters, mixed case and digits, often with '~'."""
    if any(ch.isspace() for ch in text) or not _SECRETISH.fullmatch(text):
        return False
    if re.fullmatch(r"[0-9A-Fa-f-]+", text):
        return False
    has_mixed = (
        any(c.islower() for c in text)
        and any(c.isupper() for c in text)
        and any(c.isdigit() for c in text)
    )
    return "~" in text or has_mixed


def _guid_shape_problem(text: str, field: str) -> str | None:
    """A specific message for an almost-GUID (a group too short, a letter past f)."""
    lowered = re.sub(r"\s+", "", text).lower()
    if not _GUIDISH.fullmatch(lowered):
        return None
    groups = lowered.split("-")
    bad = sorted({c for c in lowered if c not in "0123456789abcdef-"})
    if len(bad) > 2:
        return None  # words with hyphens, not a mistyped GUID
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return (
            f"This is not a valid {field}: it contains {shown}, and an ID only has the "
            "digits 0-9 and the letters a-f (a mistyped O for 0 or l for 1?). Copy it "
            "rather than typing it."
        )
    if len(groups) == 5:
        lengths = "-".join(str(len(g)) for g in groups)
        return (
            f"This {field} is incomplete: an ID has 8-4-4-4-12 characters, this one has "
            f"{lengths}. Part of it was probably cut off when copying; copy it again with "
            "the portal's copy button."
        )
    return (
        f"This is not a complete {field}: an ID has five groups of 8-4-4-4-12 characters "
        f"and this has {len(groups)}. Copy it again with the portal's copy button."
    )


def _hex_only(text: str) -> str:
    return re.sub(r"[\s:-]", "", text)


def _client_id_from_url(text: str) -> str | None:
    parts = urlsplit(text)
    for source in (parts.query, parts.fragment):
        values = parse_qs(source)
        for name in ("client_id", "appId", "appid", "applicationId"):
            for value in values.get(name, []):
                guid = _as_guid(value)
                if guid:
                    return guid
    # Portal addresses carry it as a path segment: .../Overview/appId/<guid>/...
    pieces = [p for p in unquote(parts.path + "/" + parts.fragment).split("/") if p]
    for name, value in itertools.pairwise(pieces):
        if name.lower() in ("appid", "applicationid", "clientid"):
            guid = _as_guid(value)
            if guid:
                return guid
    return None


def _client_id(text: str) -> tuple[str | None, str | None]:
    """(normalised value, None) or (None, problem)."""
    value = clean_pasted(text)
    if not value:
        return None, f"Enter the {CLIENT_ID_LABEL}. {_WHERE_CLIENT_ID}"
    guid = _as_guid(value) or _as_guid(_strip_label(value))
    if guid:
        return guid, None
    if "://" in value or value.lower().startswith("www."):
        found = _client_id_from_url(value)
        if found:
            return found, None
        return None, (
            f"This is a web address, not the {CLIENT_ID_LABEL}. {_WHERE_CLIENT_ID}"
        )
    if _EMAIL.fullmatch(value):
        return None, (
            f"This is an e-mail address, not the {CLIENT_ID_LABEL} (a GUID such as "
            f"1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d). {_WHERE_CLIENT_ID}"
        )
    hex_value = _hex_only(value)
    if re.fullmatch(r"[0-9A-Fa-f]{40}", hex_value):
        return None, (
            f"This looks like a certificate thumbprint (40 hex characters), not the "
            f"{CLIENT_ID_LABEL}. {_WHERE_CLIENT_ID}"
        )
    if re.fullmatch(r"[0-9A-Fa-f]{64}", hex_value):
        return None, (
            f"This looks like a SHA-256 thumbprint, not the {CLIENT_ID_LABEL}. {_WHERE_CLIENT_ID}"
        )
    shape = _guid_shape_problem(value, CLIENT_ID_LABEL)
    if shape:
        return None, shape
    if _looks_like_secret(value):
        return None, (
            f"This looks like a client secret value, not the {CLIENT_ID_LABEL}. Secrets are "
            f"not needed here (that is the point of the certificate). {_WHERE_CLIENT_ID}"
        )
    if _domain(value) is not None:
        return None, (
            f"This looks like a domain name, which identifies the tenant, not the app. "
            f"Put it in the {TENANT_ID_LABEL} field. {_WHERE_CLIENT_ID}"
        )
    return None, (
        f"This is not an {CLIENT_ID_LABEL}: that is a GUID such as "
        f"1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d. {_WHERE_CLIENT_ID}"
    )


def _domain(text: str) -> str | None:
    """The lowercase ASCII (punycode) form of a plausible DNS domain, or None."""
    value = text.strip().rstrip(".").lower()
    if not value or len(value) > 253 or any(ch.isspace() for ch in value):
        return None
    try:
        ascii_value = value.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_value.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1].isdigit() or len(labels[-1]) < 2:
        return None  # an IP address or a dotted version number, not a domain
    return ascii_value


def _tenant_from_url(value: str) -> str | None:
    """The tenant in a sign-in URL: https://login.microsoftonline.com/<tenant>/oauth2/..."""
    parts = urlsplit(value if "://" in value else "https://" + value)
    segments = [s for s in unquote(parts.path).split("/") if s]
    host = (parts.hostname or "").lower()
    if not segments or not host:  # "a:///x.com" is no sign-in URL: nothing to take from it
        return None
    is_login_host = host.startswith("login.") or host.startswith("sts.")
    looks_like_authority = len(segments) == 1 or segments[1].lower() in _LOGIN_PATH_TAILS
    if not (is_login_host or looks_like_authority):
        return None
    candidate = segments[0]
    return _as_guid(candidate) or _domain(candidate)


def _tenant(text: str) -> tuple[str | None, str | None]:
    value = clean_pasted(text)
    if not value:
        return None, f"Enter the {TENANT_ID_LABEL}. {_WHERE_TENANT}"
    guid = _as_guid(value) or _as_guid(_strip_label(value))
    if guid:
        return guid, None
    lowered = value.lower()
    if "://" in value or lowered.startswith(("login.", "www.")):
        found = _tenant_from_url(value)
        # Only what would be accepted typed alone (so the value shown after Back still passes).
        if found and found not in _RESERVED_TENANTS and _tenant(found)[0] == found:
            return found, None
        host = (urlsplit(value if "://" in value else "https://" + value).hostname or "").lower()
        if host.endswith(".sharepoint.com"):
            org = host.split(".")[0].removesuffix("-admin").removesuffix("-my")
            return None, (
                f"This is a SharePoint address, not the {TENANT_ID_LABEL}. Your tenant's "
                f"initial domain is probably {org}.onmicrosoft.com. {_WHERE_TENANT}"
            )
        return None, f"This is a web address, not the {TENANT_ID_LABEL}. {_WHERE_TENANT}"
    if lowered in _RESERVED_TENANTS:
        return None, (
            f"'{lowered}' is not a tenant: an app signing in with its own certificate must "
            f"name its home tenant. {_WHERE_TENANT}"
        )
    email = _EMAIL.fullmatch(value)
    if email:
        domain = _domain(email.group(1))
        suggestion = (
            f" Its domain, {domain}, works if it is a verified domain of your tenant."
            if domain
            else ""
        )
        return None, (
            f"This is an e-mail address, not the {TENANT_ID_LABEL}.{suggestion} {_WHERE_TENANT}"
        )
    if re.fullmatch(r"[0-9A-Fa-f]{40}", _hex_only(value)):
        return None, (
            f"This looks like a certificate thumbprint, not the {TENANT_ID_LABEL}. {_WHERE_TENANT}"
        )
    shape = _guid_shape_problem(value, TENANT_ID_LABEL)
    if shape:
        return None, shape
    if _looks_like_secret(value):
        return None, (
            f"This looks like a client secret value, not the {TENANT_ID_LABEL}. {_WHERE_TENANT}"
        )
    domain = _domain(value)
    if domain:
        return domain, None
    if _LABEL.fullmatch(lowered):
        return None, (
            f"'{value}' is not a complete domain. Did you mean {lowered}.onmicrosoft.com? "
            f"{_WHERE_TENANT}"
        )
    return None, (
        f"This is not a {TENANT_ID_LABEL}: enter a GUID such as "
        f"1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d or a domain such as contoso.onmicrosoft.com. "
        f"{_WHERE_TENANT}"
    )


def _thumbprint(text: str) -> tuple[str | None, str | None]:
    value = clean_pasted(text)
    if value.lower().startswith(("sha1", "sha-1", "thumbprint")):
        value = _strip_label(value)
    compact = _hex_only(value).upper()
    if not compact:
        return None, (
            f"Enter the {THUMBPRINT_LABEL} the portal shows under {CERTIFICATES_TAB} "
            "(40 hexadecimal characters)."
        )
    if re.fullmatch(r"[0-9A-F]{40}", compact):
        return compact, None
    if re.fullmatch(r"[0-9A-F]{64}", compact):
        return None, (
            "This is a SHA-256 thumbprint (64 characters); the portal shows the SHA-1 "
            f"{THUMBPRINT_LABEL} (40 characters). Copy the one under {CERTIFICATES_TAB}."
        )
    bad = sorted({c for c in compact if c not in "0123456789ABCDEF"})
    if len(bad) > 3:
        return None, (
            f"This is not a {THUMBPRINT_LABEL}: that is 40 hexadecimal characters (0-9, A-F), "
            f"shown under {CERTIFICATES_TAB}."
        )
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return None, (
            f"A {THUMBPRINT_LABEL} only has 0-9 and A-F; this contains {shown}. Copy it from "
            f"{CERTIFICATES_TAB}."
        )
    return None, (
        f"A {THUMBPRINT_LABEL} has 40 hexadecimal characters; this has {len(compact)}. Part "
        "of it was probably cut off: copy it again."
    )


def client_id_problem(text: str) -> str | None:
    """None if `text` holds an Application (client) ID, else what is wrong and where to look."""
    return _client_id(text)[1]


def tenant_problem(text: str) -> str | None:
    """None if `text` holds a Directory (tenant) ID or a domain, else the message."""
    return _tenant(text)[1]


def thumbprint_problem(text: str) -> str | None:
    """None if `text` holds a SHA-1 thumbprint in any common notation, else the message."""
    return _thumbprint(text)[1]


def _normalized(result: tuple[str | None, str | None]) -> str:
    value, problem = result
    if value is None:
        raise UserError(problem or "The value is not valid.", exit_code=2)
    return value


def normalize_client_id(text: str) -> str:
    """The Application (client) ID as a lowercase GUID; UserError naming the field if not one."""
    return _normalized(_client_id(text))


def normalize_tenant(text: str) -> str:
    """A lowercase GUID or a lowercase (punycode) domain; extracted from a sign-in URL too."""
    return _normalized(_tenant(text))


def normalize_thumbprint(text: str) -> str:
    """40 uppercase hex characters, from any case, with spaces/colons/invisible characters."""
    return _normalized(_thumbprint(text))


def is_guid(text: str) -> bool:
    return _GUID.fullmatch(text.lower()) is not None
