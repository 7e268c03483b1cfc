"""Pure checks for what a user types: certificate names, file stems, days, key sizes, passphrases.

Each `*_problem` returns None when the value is fine, else one message that says what is
wrong and how to fix it, so the CLI and the wizard's field validators show the same words
(the same pattern as `wizard.inputs`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_NAME_LENGTH = 64  # X.520 ub-common-name
MIN_DAYS = 1
MAX_DAYS = 3650
LONG_VALIDITY_WARNING_DAYS = 730
EXPIRY_WARNING_DAYS = 30  # days before expiry that every interface warns
KEY_SIZES = (2048, 3072, 4096)
MAX_PASSPHRASE_LENGTH = 1024
MAX_PASSPHRASE_BYTES = 1023  # what OpenSSL (through cryptography) accepts to encrypt a key
# A passphrase shorter than this, or of one kind of character and short, is easy to guess
# offline by anyone who copies the key or .pfx: warned about, never refused.
STRONG_PASSPHRASE_LENGTH = 12
ONE_KIND_PASSPHRASE_LENGTH = 20
MIN_DISTINCT_PASSPHRASE_CHARACTERS = 6

# Names Windows reserves for devices, whatever the extension ("CON.cer" is the console too).
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{n}" for n in "123456789¹²³"}
    | {f"LPT{n}" for n in "123456789¹²³"}
)
_UNSAFE_STEM_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def _describe_char(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def certificate_name_problem(name: object) -> str | None:
    """Check a certificate name (it becomes the subject CN, `CN=<name>`)."""
    if not isinstance(name, str) or not name:
        return "Enter a certificate name, for example ScriptServer01."
    if name != name.strip():
        return "The name starts or ends with a space; remove it."
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"The name is {len(name)} characters long; a certificate name (CN) holds at most "
            f"{MAX_NAME_LENGTH}. Shorten it."
        )
    encoded = len(name.encode("utf-8", "surrogatepass"))
    if encoded > MAX_NAME_LENGTH:  # the CN is stored as UTF-8: the limit is in bytes
        return (
            f"The name takes {encoded} bytes as UTF-8 (accented letters and symbols take 2-4 "
            f"each); a certificate name (CN) holds at most {MAX_NAME_LENGTH}. Shorten it."
        )
    for position, char in enumerate(name, start=1):
        if not char.isprintable():
            return (
                f"The name contains an invisible or control character ({_describe_char(char)}) "
                f"at position {position}; retype the name without it."
            )
    return None


def file_stem_for(name: str) -> str:
    """A file and folder name derived from a certificate name, safe on Linux, macOS and Windows.

    Accents are folded to ASCII ("Été" -> "Ete"), anything but letters, digits, "-", "_" and
    "." becomes "_", and names that would still be unsafe (empty, dot-only, a Windows device
    name) get a prefix or a short hash so two different names rarely share a stem.
    """
    folded = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    stem = _UNSAFE_STEM_CHARS.sub("_", ascii_only)
    stem = re.sub(r"\.{2,}", ".", stem)  # no ".." anywhere
    stem = stem.strip("._- ")  # no leading dot (hidden) or dash (option), no trailing dot
    if not stem:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        return f"certificate-{digest}"
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = f"cert-{stem}"
    return stem[:MAX_NAME_LENGTH].rstrip("._- ")


def _typed_number(value: object) -> object:
    """Digits typed as text become their int; other text and bools become None.

    A bool is an int to Python, but True must not pass as 1 day; anything else is returned
    as it is for the caller's own check.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isdigit() and text.isascii() else None
    return value


def days_problem(value: object) -> str | None:
    """Check a validity in days (1..3650)."""
    message = (
        f"Enter the validity as a whole number of days from {MIN_DAYS} to {MAX_DAYS} "
        "(365 is usual)."
    )
    value = _typed_number(value)
    if not isinstance(value, int) or not MIN_DAYS <= value <= MAX_DAYS:
        return message
    return None


def long_validity_warning(days: int) -> str | None:
    """A warning for validities many tenants refuse (credential lifetime policies), else None."""
    if days <= LONG_VALIDITY_WARNING_DAYS:
        return None
    return (
        f"The certificate is valid for {days} days. Many tenants cap credential lifetime "
        "(often at 1-2 years) and will refuse a longer one; 365 days is the usual choice."
    )


def key_size_problem(value: object) -> str | None:
    """Check an RSA key size: 2048, 3072 or 4096 (Entra ID needs at least 2048)."""
    message = "Choose an RSA key size of 2048 (recommended), 3072 or 4096 bits."
    value = _typed_number(value)
    if value is None:
        return message
    if value not in KEY_SIZES:
        if isinstance(value, int) and value < KEY_SIZES[0]:
            return f"{value}-bit keys are too weak: Entra ID needs RSA 2048 or more. " + message
        return message
    return None


def passphrase_problem(passphrase: str | bytes, confirm: str | bytes) -> str | None:
    """Check a new passphrase and its confirmation."""
    if not passphrase:
        return "Enter a passphrase (or choose to write the key without one)."
    if len(passphrase) > MAX_PASSPHRASE_LENGTH:
        return f"The passphrase is over {MAX_PASSPHRASE_LENGTH} characters long; use a shorter one."
    size = (
        len(passphrase.encode("utf-8", "surrogatepass"))
        if isinstance(passphrase, str)
        else len(passphrase)
    )
    if size > MAX_PASSPHRASE_BYTES:
        return (
            f"The passphrase takes {size} bytes as UTF-8; a key can be encrypted with at most "
            f"{MAX_PASSPHRASE_BYTES}. Use a shorter one."
        )
    if passphrase != confirm:
        return "The two passphrases differ; type them again."
    return None


def _character_kinds(text: str) -> int:
    """How many of lower case, upper case, digits and other characters `text` uses."""
    return sum(
        any(test(c) for c in text)
        for test in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    )


def weak_passphrase_warning(passphrase: str | bytes) -> str | None:
    """None for a passphrase that resists offline guessing, else a warning (not a refusal).

    Short, or few distinct characters, or one kind of character and not long: a copied key
    file opens to a guessing program in minutes. Words strung together count as strong when long.
    """
    if not passphrase:
        return None
    text = (
        passphrase.decode("utf-8", "replace") if isinstance(passphrase, bytes) else passphrase
    )
    if (
        len(text) >= STRONG_PASSPHRASE_LENGTH
        and len(set(text)) >= MIN_DISTINCT_PASSPHRASE_CHARACTERS
        and (_character_kinds(text) >= 2 or len(text) >= ONE_KIND_PASSPHRASE_LENGTH)
    ):
        return None
    return (
        "This passphrase is weak: anyone who copies the key or .pfx can guess it offline. "
        f"Use at least {STRONG_PASSPHRASE_LENGTH} characters mixing letters, digits and "
        "symbols, or several random words."
    )
