"""A request's head (its request line and header fields), read strictly and cheaply.

http.server reads header fields with the email package's feed parser, which cost ~50 us of
Python per request (a third of the HTTP work of a token request under load); this reader
costs ~3 us. It is also stricter, as RFC 9112 asks of a server: a field line that is not
`name: value` (no colon, whitespace before it, an obs-fold continuation, a control
character in the value) is a 400, never quietly joined or dropped. The size limits are
http.server's own.
"""

from __future__ import annotations

import io
import re
from http import HTTPStatus
from http.client import HTTPMessage

MAX_LINE = 65536  # bytes in one field line (http.client's _MAXLINE)
MAX_FIELDS = 100  # field lines in one head (http.client's _MAXHEADERS)
# RFC 9110 5.1: a field name is a token.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/([0-9]{1,10})\.([0-9]{1,10})")
_VALUE_CONTROLS = frozenset("\0\r\n")
_BLANK_LINES = (b"\r\n", b"\n", b"")


class MalformedHead(Exception):
    """The head cannot be read: the status and a short reason to answer with."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_request_line(line: str) -> tuple[str, str, str, tuple[int, int]]:
    """(method, target, version, (major, minor)) of `METHOD TARGET HTTP/x.y`.

    The HTTP/0.9 form (no version) is refused: answered in its own style it would carry no
    status line, which no client can read as an error.
    """
    words = line.split()
    if len(words) == 2:
        raise MalformedHead(
            HTTPStatus.BAD_REQUEST, "The request line has no HTTP version (HTTP/0.9)"
        )
    if len(words) != 3:
        raise MalformedHead(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({line[:200]!r})")
    method, target, version = words
    match = _VERSION.fullmatch(version)
    if match is None:
        raise MalformedHead(HTTPStatus.BAD_REQUEST, f"Bad request version ({version[:40]!r})")
    number = (int(match.group(1)), int(match.group(2)))
    if number >= (2, 0):
        raise MalformedHead(
            HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"Invalid HTTP version ({version[5:45]})"
        )
    if target.startswith("//"):
        # As http.server does (gh-87389): '//host/path' would read as another host.
        target = "/" + target.lstrip("/")
    return method, target, version, number


def read_header_fields(rfile: io.BufferedIOBase) -> HTTPMessage:
    """The field lines up to the blank line, as the HTTPMessage http.server would make."""
    fields = HTTPMessage()
    for _ in range(MAX_FIELDS + 1):
        raw = rfile.readline(MAX_LINE + 1)
        if len(raw) > MAX_LINE:
            raise MalformedHead(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
        if raw in _BLANK_LINES:  # the end of the head (or of the stream, as http.server reads it)
            return fields
        line = raw.decode("iso-8859-1")
        line = line[:-2] if line.endswith("\r\n") else line.rstrip("\n")
        name, colon, value = line.partition(":")
        value = value.strip(" \t")
        if not colon or not _FIELD_NAME.fullmatch(name) or not _VALUE_CONTROLS.isdisjoint(value):
            raise MalformedHead(HTTPStatus.BAD_REQUEST, "Malformed header field line")
        fields[name] = value
    raise MalformedHead(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
