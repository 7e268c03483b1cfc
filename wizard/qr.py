"""A QR code of a URL as lines of text, for a terminal or a widget: a phone opens the URL.

Two rows of modules per line with Unicode half blocks, light modules drawn and dark ones left
blank, as `qrencode -t UTF8` and segno's compact terminal output do: right on the dark
background most terminals have (phone cameras also read it inverted). A quiet zone of two
modules rather than four keeps the code small enough for an 80x24 terminal; scanners cope.
"""

from __future__ import annotations

import io

QUIET_ZONE = 2
# Sign-in addresses are short (https://microsoft.com/devicelogin); anything much longer would
# draw a code taller than the terminal, so it is not drawn at all.
MAX_URL_CHARS = 200


def qr_lines(url: str) -> list[str]:
    """The QR code of `url` (lowest error correction: the smallest code), one str per line;
    [] for an address longer than MAX_URL_CHARS."""
    if len(url) > MAX_URL_CHARS:
        return []
    import segno

    code = segno.make(url, error="l", micro=False)
    out = io.StringIO()
    code.terminal(out=out, compact=True, border=QUIET_ZONE)
    return out.getvalue().splitlines()
