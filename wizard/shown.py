"""Outside text made safe to show: certificate fields, file names, server answers, profile names.

A terminal acts on control characters (ESC starts sequences that clear the screen, hide lines,
write the clipboard or make links) and bidi overrides reorder what is read. Outside text
passes through `shown` before any output or widget, so those characters appear escaped as
`\\x1b` or `\\u202e` and are never interpreted. Markup is a separate matter: the screens show
outside text as plain text (never parsed as Textual markup).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, TextIO

# C0 controls, DEL, C1 controls; bidi marks, embeddings, overrides and isolates; the Unicode
# line and paragraph separators; lone surrogates (undecodable file names), which cannot be
# written to a UTF-8 terminal at all.
_OTHER = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_ONE_LINE = f"[\x00-\x1f{_OTHER}]"
_MULTILINE = f"[\x00-\x08\x0b-\x1f{_OTHER}]"  # keeps tab (\x09) and newline (\x0a)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


@cache
def _pattern(source: str) -> re.Pattern[str]:
    """Compiled on first use, not at import: the ranges above cost the regular expression
    compiler ~1% of the wizard's start, and its first screen shows no outside text."""
    return re.compile(source)


def shown(text: object, *, multiline: bool = False) -> str:
    """`text` with every control, bidi and separator character written out visibly.

    One-line fields (names, paths, subjects) escape tab and newline too, so a value cannot
    forge a line of its own; `multiline=True` keeps tab and newline (a server's message,
    a log) and still escapes carriage return, which would overwrite what was shown.
    """
    return _pattern(_MULTILINE if multiline else _ONE_LINE).sub(_escape, str(text))


class ShownStream:
    """A text stream that passes everything written through `shown(multiline=True)`.

    The command line's stdout and stderr are wrapped in it: whatever a command prints
    (our own words never hold control characters) reaches the terminal with no raw control
    byte, whichever outside text a line carries.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(shown(text, multiline=True))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, buffer...
        return getattr(self._stream, name)
