"""The demo tenant's own reader of a request's head: what http.server's email parser read,
read the same way, and what RFC 9112 says a server must refuse, refused."""

from __future__ import annotations

import io
from http import HTTPStatus
from http.client import parse_headers

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wizard.emulator.request_head import (
    MAX_FIELDS,
    MalformedHead,
    parse_request_line,
    read_header_fields,
)

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _fields(head: bytes) -> list[tuple[str, str]]:
    return list(read_header_fields(io.BytesIO(head)).items())


def _email_parser_fields(head: bytes) -> list[tuple[str, str]]:
    """http.server's reading, less the trailing whitespace it keeps (not part of a value,
    RFC 9110 5.5)."""
    return [(n, v.rstrip(" \t")) for n, v in parse_headers(io.BytesIO(head)).items()]


def test_a_token_request_head_reads_as_the_email_parser_reads_it() -> None:
    head = (
        b"Host: 127.0.0.1:44321\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 1234\r\nAccept: application/json\r\nclient-request-id: \t abc \r\n"
        b"\r\nbody stays unread"
    )
    stream = io.BytesIO(head)
    fields = read_header_fields(stream)
    assert fields.items() == _email_parser_fields(head)
    assert fields.get("content-length") == "1234"  # names compare case-insensitively
    assert stream.read() == b"body stays unread"


def _head(pairs: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{n}: {v}\r\n".encode("iso-8859-1") for n, v in pairs) + b"\r\n"


NAMES = st.text(TOKEN_CHARS, min_size=1, max_size=20)
VISIBLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
LATIN1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)


@given(st.lists(st.tuples(NAMES, VISIBLE), max_size=40))
def test_any_well_formed_head_reads_as_the_email_parser_reads_it(
    pairs: list[tuple[str, str]],
) -> None:
    head = _head(pairs)
    assert read_header_fields(io.BytesIO(head)).items() == _email_parser_fields(head)


@given(st.lists(st.tuples(NAMES, LATIN1), max_size=40))
def test_any_field_value_of_visible_or_latin1_text_is_read_whole(
    pairs: list[tuple[str, str]],
) -> None:
    """Values with bytes 0x80-0xFF too (obs-text), which the email parser splits at NEL."""
    fields = read_header_fields(io.BytesIO(_head(pairs))).items()
    assert fields == [(n, v.strip(" \t")) for n, v in pairs]


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"Host: x\r\n folded: continuation\r\n\r\n", HTTPStatus.BAD_REQUEST),  # obs-fold
        (b"Host : x\r\n\r\n", HTTPStatus.BAD_REQUEST),  # whitespace before the colon
        (b"no colon at all\r\n\r\n", HTTPStatus.BAD_REQUEST),
        (b": no name\r\n\r\n", HTTPStatus.BAD_REQUEST),
        (b"X-Nul: a\0b\r\n\r\n", HTTPStatus.BAD_REQUEST),
        (b"X-Cr: a\rb\r\n\r\n", HTTPStatus.BAD_REQUEST),
        (b"X-Big: " + b"b" * 70_000 + b"\r\n\r\n", HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE),
        (b"X-a: b\r\n" * (MAX_FIELDS + 1) + b"\r\n", HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE),
    ],
)
def test_malformed_field_lines_are_refused(head: bytes, status: HTTPStatus) -> None:
    with pytest.raises(MalformedHead) as refused:
        read_header_fields(io.BytesIO(head))
    assert refused.value.status == status


def test_as_many_fields_as_http_server_allows_are_read() -> None:
    assert len(_fields(b"X-a: b\r\n" * MAX_FIELDS + b"\r\n")) == MAX_FIELDS


def test_a_head_cut_off_by_the_end_of_the_stream_ends_there() -> None:
    assert _fields(b"Host: x\r\nAccept: y") == [("Host", "x"), ("Accept", "y")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "POST /t/oauth2/v2.0/token HTTP/1.1",
            ("POST", "/t/oauth2/v2.0/token", "HTTP/1.1", (1, 1)),
        ),
        ("GET / HTTP/1.0", ("GET", "/", "HTTP/1.0", (1, 0))),
        ("GET //evil.example/x HTTP/1.1", ("GET", "/evil.example/x", "HTTP/1.1", (1, 1))),
        ("GET / HTTP/01.01", ("GET", "/", "HTTP/01.01", (1, 1))),
    ],
)
def test_request_lines_read(line: str, expected: tuple[str, str, str, tuple[int, int]]) -> None:
    assert parse_request_line(line) == expected


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("GET /", HTTPStatus.BAD_REQUEST),  # HTTP/0.9
        ("NONSENSE", HTTPStatus.BAD_REQUEST),
        ("GET / HTTP/1.1 extra", HTTPStatus.BAD_REQUEST),
        ("GET / HTTP/1.x", HTTPStatus.BAD_REQUEST),
        ("GET / HTTP/1.1.1", HTTPStatus.BAD_REQUEST),
        ("GET / HTTP/1²", HTTPStatus.BAD_REQUEST),
        ("GET / HTTP/12345678901.1", HTTPStatus.BAD_REQUEST),
        ("GET / HTTP/2.0", HTTPStatus.HTTP_VERSION_NOT_SUPPORTED),
    ],
)
def test_bad_request_lines_refused(line: str, status: HTTPStatus) -> None:
    with pytest.raises(MalformedHead) as refused:
        parse_request_line(line)
    assert refused.value.status == status
