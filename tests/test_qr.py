"""The QR code of a URL, drawn with half blocks, holds exactly segno's modules."""

from __future__ import annotations

import segno

from wizard.qr import QUIET_ZONE, qr_lines

# Two modules per character, top and bottom: light modules are drawn (dark ones are blank).
_HALVES = {" ": (True, True), "▀": (False, True), "▄": (True, False), "█": (False, False)}


def test_the_lines_hold_every_module_of_the_code() -> None:
    url = "https://microsoft.com/devicelogin"
    lines = qr_lines(url)
    matrix = [list(map(bool, row)) for row in segno.make(url, error="l", micro=False).matrix]
    size = len(matrix) + 2 * QUIET_ZONE
    assert {len(line) for line in lines} == {size}
    rows: list[list[bool]] = [[], []]
    drawn: list[list[bool]] = []
    for line in lines:
        rows = [[], []]
        for char in line:
            top, bottom = _HALVES[char]
            rows[0].append(top)
            rows[1].append(bottom)
        drawn += rows
    inner = [row[QUIET_ZONE:-QUIET_ZONE] for row in drawn[QUIET_ZONE:QUIET_ZONE + len(matrix)]]
    assert inner == matrix
    # The quiet zone is light all round.
    assert not any(drawn[0]) and not any(row[0] for row in drawn[: size])


def test_a_long_demo_address_still_fits_an_80_by_24_terminal() -> None:
    lines = qr_lines("https://localhost:65535/devicelogin")
    assert len(lines) <= 20 and max(len(line) for line in lines) <= 76


def test_an_overlong_address_draws_nothing() -> None:
    assert qr_lines("https://example.com/" + "a" * 500) == []
