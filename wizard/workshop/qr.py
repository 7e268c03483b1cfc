"""A QR code as lines of text (two modules per character cell, half blocks), for a terminal."""

from __future__ import annotations


def qr_lines(url: str) -> list[str]:
    """The QR code of `url` with its quiet zone, dark modules drawn as blocks."""
    import segno

    matrix = [[bool(module) for module in row] for row in segno.make(url, error="m", micro=False)
              .matrix_iter(scale=1, border=2)]
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    # Light modules are drawn, dark ones left blank: a QR code reads on a dark terminal
    # when its dark modules are the background and the quiet zone is lit.
    glyphs = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    return [
        "".join(glyphs[(not top, not bottom)] for top, bottom in zip(upper, lower, strict=True))
        for upper, lower in zip(matrix[::2], matrix[1::2], strict=True)
    ]
