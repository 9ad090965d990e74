"""A report's time range cut where the daily roll-ups can answer it: the whole UTC days
inside [since, until) (read from ``usage_daily``) and the partial days at its edges (read
from the calls themselves, an indexed range scan of at most two days' calls)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

Range = tuple[datetime | None, datetime | None]  # [since, until); None: unbounded


@dataclass(frozen=True, slots=True)
class Span:
    """``days``: the whole days [first, end) the roll-ups answer (``None`` either side:
    unbounded), or ``None`` when there is no whole day; ``edges``: the ranges left to the
    calls, never overlapping the days."""

    days: tuple[date | None, date | None] | None
    edges: tuple[Range, ...]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def rest_of_day(edge: Range) -> tuple[date, tuple[Range, ...]] | None:
    """For an edge inside one UTC day and longer than half of it: that day and the parts of
    it outside the edge. Reading the day's roll-ups and taking away the calls of those
    parts reads fewer calls than the edge holds (at most half a day's, not all but a few
    minutes' of it). ``None``: read the edge itself."""
    since, until = edge
    if since is None or until is None:
        return None
    day = since.astimezone(UTC).date()
    start, end = midnight(day), midnight(day + timedelta(1))
    if until > end or (until - since) * 2 <= end - start:
        return None
    return day, tuple((a, b) for a, b in ((start, since), (until, end)) if a < b)


def split(since: datetime | None, until: datetime | None) -> Span:
    """[since, until) as whole UTC days and the partial days around them."""
    since = None if since is None else since.astimezone(UTC)
    until = None if until is None else until.astimezone(UTC)
    first = None
    if since is not None:
        first = since.date() if since == midnight(since.date()) else since.date() + timedelta(1)
    end = None if until is None else until.date()
    if first is not None and end is not None and first >= end:
        return Span(None, ((since, until),))  # less than a whole day
    edges: list[Range] = []
    if since is not None and first is not None and since < midnight(first):
        edges.append((since, midnight(first)))
    if until is not None and end is not None and midnight(end) < until:
        edges.append((midnight(end), until))
    return Span((first, end), tuple(edges))
