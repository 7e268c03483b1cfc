"""The trainer's table of seats: a header and one line per seat, drawn line by line.

A DataTable draws every cell again whenever any cell changes. With a full room the "On step"
column changes every second on every line, and the seats' processes share the CPU with the
view, so each second cost the whole table's drawing. Here a line is drawn only when its cells
(or the column widths, or the cursor on it) change, and only changed lines are refreshed.
Cells are plain text: nothing in them is read as markup.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GAP = 2  # spaces between columns


class SeatTable(ScrollView, can_focus=True):
    """Rows keyed by seat; `show(rows)` brings the table up to date, `selected` is the seat."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "seat-table--header", "seat-table--cursor", "seat-table--stripe",
    }
    DEFAULT_CSS = """
    SeatTable { height: 1fr; background: $surface; color: $foreground; }
    SeatTable > .seat-table--header { text-style: bold; background: $panel; color: $foreground; }
    SeatTable > .seat-table--stripe { background: $surface-lighten-1 50%; }
    SeatTable > .seat-table--cursor {
        background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground;
    }
    SeatTable:focus > .seat-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("home", "move(-1000)", "First", show=False),
        Binding("end", "move(1000)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0)

    def __init__(self, columns: tuple[str, ...], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = columns
        self.widths = [cell_len(c) for c in columns]
        self.order: list[str] = []  # row keys, top to bottom
        self.cells: dict[str, tuple[str, ...]] = {}
        self._drawn: dict[tuple[object, ...], Strip] = {}  # a line's strip, by what it shows

    # -- data ------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.order)

    @property
    def selected(self) -> str | None:
        return self.order[self.cursor] if self.order else None

    def show(self, rows: list[tuple[str, tuple[str, ...]]]) -> None:
        """Rows (key, cells) in the order to show them; the cursor stays on its row's key."""
        selected = self.selected
        before = {key: (index, self.cells.get(key)) for index, key in enumerate(self.order)}
        widths = [max(w, *(cell_len(cells[i]) for _, cells in rows)) if rows else w
                  for i, w in enumerate(self.widths)]  # columns only grow: no jumping about
        redraw_all = widths != self.widths or len(rows) != len(self.order)
        self.widths = widths
        self.order = [key for key, _ in rows]
        self.cells = dict(rows)
        if redraw_all:
            self._drawn.clear()
        self.virtual_size = Size(sum(widths) + GAP * len(widths), len(rows) + 1)
        if selected in self.cells:
            self.cursor = self.order.index(selected)
        self.cursor = min(self.cursor, max(0, len(rows) - 1))
        if redraw_all:
            self.refresh()
            return
        for index, (key, cells) in enumerate(rows):
            if before.get(key) != (index, cells):
                self.refresh_line(index + 1)

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:  # the header stays put
            return self._line(("header",), self.columns, "seat-table--header", scroll_x)
        index = y + scroll_y - 1
        if index >= len(self.order):
            return Strip.blank(self.size.width, self.rich_style)
        key = self.order[index]
        kind = ("seat-table--cursor" if index == self.cursor
                else "seat-table--stripe" if index % 2 else "")
        return self._line((key,), self.cells[key], kind, scroll_x)

    def _line(self, key: tuple[object, ...], cells: tuple[str, ...], kind: str,
              scroll_x: int) -> Strip:
        width = max(self.size.width, self.virtual_size.width)
        cache_key = (*key, cells, kind, width, self.has_focus)
        strip = self._drawn.get(cache_key)
        if strip is None:
            style = self.rich_style + (self.get_component_rich_style(kind) if kind else Style())
            text = "".join(set_cell_size(cell, w + GAP) for cell, w in zip(cells, self.widths,
                                                                            strict=True))
            strip = Strip([Segment(set_cell_size(text, width), style)], width)
            if len(self._drawn) > 4 * (len(self.order) + 1):
                self._drawn.clear()  # old lines (moved rows, old seconds) go
            self._drawn[cache_key] = strip
        return strip.crop(scroll_x, scroll_x + self.size.width)

    # -- moving the cursor -----------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._keep_in_view(new)

    def _keep_in_view(self, index: int) -> None:
        top = self.scroll_offset.y
        visible = max(1, self.size.height - 1)
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + visible:
            self.scroll_to(y=index - visible + 1, animate=False)

    def move_to(self, key: str) -> None:
        if key in self.cells:
            self.cursor = self.order.index(key)

    def action_move(self, rows: int) -> None:
        if self.order:
            self.cursor = max(0, min(len(self.order) - 1, self.cursor + rows))

    def on_click(self, event: events.Click) -> None:
        index = event.y + self.scroll_offset.y - 1
        if 0 <= index < len(self.order):
            self.cursor = index

    def on_focus(self) -> None:
        self.refresh()  # the cursor's line looks different with focus

    def on_blur(self) -> None:
        self.refresh()
