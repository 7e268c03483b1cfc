"""The demo tenant's base64url reader: exactly RFC 4648's URL-safe alphabet, padding optional."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wizard.emulator.jose import JoseError, b64url_decode, b64url_encode

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_come_back_padded_or_not(data: bytes, padded: bool) -> None:
    text = b64url_encode(data)
    if padded:
        text += "=" * (-len(text) % 4)
    assert b64url_decode(text) == data


@given(st.text(ALPHABET, max_size=40), st.characters(), st.text(ALPHABET, max_size=40))
def test_one_character_outside_the_alphabet_is_refused(
    before: str, stranger: str, after: str
) -> None:
    if stranger in ALPHABET or (stranger == "=" and not after):
        return  # still base64url (trailing padding)
    with pytest.raises(JoseError):
        b64url_decode(before + stranger + after)


@pytest.mark.parametrize("text", ["+/+/", "ab+c", "ab/c", "aé", "ab\ncd", "a b", "ab=c", "\u0130"])
def test_standard_base64_and_other_text_refused(text: str) -> None:
    with pytest.raises(JoseError):
        b64url_decode(text)


def test_a_length_no_base64_can_have_is_refused() -> None:
    with pytest.raises(JoseError):
        b64url_decode("abcde")
    assert b64url_decode("abcd") == base64.urlsafe_b64decode("abcd")
