"""Whether focus shows without colour: a widget's cells, text and styles only (bold, reverse,
underline, ...), compared with and without focus, as a monochrome terminal (NO_COLOR) shows them."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input

Look = list[list[tuple[str, bool, bool, bool, bool, bool]]]


def monochrome_look(widget: Widget) -> Look:
    """The widget's cells on screen (its children's too) as text and text styles, every
    colour dropped."""
    region = widget.region
    strips = widget.screen._compositor.render_strips()
    rows: Look = []
    for strip in strips[region.y : region.bottom]:
        row = []
        for segment in strip.crop(region.x, region.right):
            style = segment.style
            row.append((
                segment.text,
                bool(style and style.bold),
                bool(style and style.underline),
                bool(style and style.reverse),
                bool(style and style.italic),
                bool(style and style.strike),
            ))
        rows.append(row)
    return rows


async def invisible_focus_stops(pilot: Pilot[Any]) -> list[str]:
    """The focus stops of the screen shown whose focus does not show without colour."""
    screen = pilot.app.screen
    for text_input in screen.query(Input):
        text_input.cursor_blink = False  # a steady cursor: the same look on every capture
    invisible: list[str] = []
    for widget in list(screen.focus_chain):
        screen.set_focus(None)
        await pilot.pause()
        blurred = monochrome_look(widget)
        widget.focus()
        await pilot.pause()
        if monochrome_look(widget) == blurred:
            invisible.append(f"{type(widget).__name__}#{widget.id}")
    return invisible
