"""Tables that stay readable at any terminal width.

No value is cut into ``…``. Each column gets at least its longest word, so ids, amounts and
times show whole on one line; text with spaces wraps at them. When the columns cannot all
fit so, the least useful ones (those a command marks with ``drop``, highest first) are left
out and a line under the table names them; ``--wide`` shows every column however wide the
table gets, and ``--json`` every field. If what is left still does not fit, the columns
marked ``fold`` (names, models, emails) are folded onto more lines, whole but split; ids,
amounts and times never are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

WideFlag = Annotated[
    bool,
    typer.Option("--wide", help="Show every column, however wide the table gets."),
]


@dataclass(frozen=True)
class Col:
    """A column: its heading; ``drop`` > 0 if it may be left out when the terminal is too
    narrow (the highest first); ``fold`` if its long words may be split over lines as a last
    resort; ``right`` for numbers."""

    heading: str
    drop: int = 0
    fold: bool = False
    right: bool = False


Column = str | Col


@dataclass(frozen=True)
class _Span:
    least: int  # the longest word: narrower would split it
    most: int  # the longest line: wider is wasted


def _span(texts: Sequence[str]) -> _Span:
    lines = [line for text in texts for line in text.splitlines() or [""]]
    words = [word for line in lines for word in line.split()] or [""]
    return _Span(max(cell_len(w) for w in words), max(cell_len(line) for line in lines))


def _frame(columns: int) -> int:
    """Borders and padding: one space each side of a cell, a rule between and around."""
    return 3 * columns + 1


FOLDED_MIN = 8  # narrower than this, a folded name is no longer readable


def _folded(cols: Sequence[Col], spans: Sequence[_Span], room: int) -> list[int] | None:
    """Too narrow for every longest word: the ``fold`` columns share what the others leave
    (by the length of their longest word); None if even that is too little."""
    firm = sum(s.least for c, s in zip(cols, spans, strict=True) if not c.fold)
    soft = sum(s.least for c, s in zip(cols, spans, strict=True) if c.fold)
    count = sum(1 for c in cols if c.fold)
    if not count or room - firm < FOLDED_MIN * count:
        return None
    return [
        max(FOLDED_MIN, (room - firm) * s.least // soft) if c.fold else s.least
        for c, s in zip(cols, spans, strict=True)
    ]


def _widths(cols: Sequence[Col], spans: Sequence[_Span], room: int) -> list[int] | None:
    """Each column's width within ``room``: its longest word, then what is left shared out.
    None leaves it to Rich (folding where it must)."""
    least = sum(s.least for s in spans)
    if least > room:
        return _folded(cols, spans, room)
    wants = [s.most - s.least for s in spans]
    spare, extra = room - least, [0] * len(spans)
    # the smallest wishes first (a time on one line), then an even share of what is left
    by_want = sorted(range(len(spans)), key=lambda i: wants[i])
    for n, i in enumerate(by_want):
        extra[i] = min(wants[i], spare // (len(spans) - n))
        spare -= extra[i]
    return [s.least + e for s, e in zip(spans, extra, strict=True)]


def _fit(cols: Sequence[Col], spans: Sequence[_Span], width: int) -> list[int]:
    """The columns shown at ``width``: all, or without the droppable ones, highest first,
    until the rest fit without splitting a word."""
    shown = list(range(len(cols)))
    for i in sorted((i for i, c in enumerate(cols) if c.drop), key=lambda i: -cols[i].drop):
        if sum(spans[j].least for j in shown) + _frame(len(shown)) <= width:
            break
        shown.remove(i)
    return shown


def render(
    console: Console,
    columns: Sequence[Column],
    cells: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    wide: bool = False,
) -> None:
    cols = [c if isinstance(c, Col) else Col(c) for c in columns]
    spans = [_span([c.heading, *(row[i] for row in cells)]) for i, c in enumerate(cols)]
    width = console.width
    shown = list(range(len(cols))) if wide else _fit(cols, spans, width)
    if wide:  # as wide as the table wants, past the terminal's edge
        width = max(width, sum(spans[i].most for i in shown) + _frame(len(shown)))
        console = Console(width=width, highlight=False, file=console.file)
    room = width - _frame(len(shown))
    sizes = _widths([cols[i] for i in shown], [spans[i] for i in shown], room)
    out = Table(title=title, title_justify="left")
    for n, i in enumerate(shown):
        justify: Literal["left", "right"] = "right" if cols[i].right else "left"
        size = sizes[n] if sizes else None
        out.add_column(cols[i].heading, justify=justify, overflow="fold", width=size)
    for row in cells:
        out.add_row(*(Text(row[i]) for i in shown))
    console.print(out, crop=False)
    hidden = [cols[i].heading for i in range(len(cols)) if i not in shown]
    if hidden:
        note = f"(not shown at this width: {', '.join(hidden)}; --wide or --json shows them)"
        console.print(Text(note), soft_wrap=False)
