"""The usage explorer's filters: read from the page's query string (a GET form, so a view
can be bookmarked and shared), checked field by field, and turned into the usage report's
:class:`~modelyard.usage.report.EventFilter`.

A bad value is an error beside its field (the page then lists no calls), never a 500: dates
that are not dates, an end before the start, an email no user has, text with NUL, a status
that is not one, a page deeper than :data:`DEPTH`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from modelyard.api.web.console.access import not_found
from modelyard.api.web.console.form_errors import FormErrors
from modelyard.errors import NotFound
from modelyard.registry.actors import Actor
from modelyard.registry.fields import unstorable
from modelyard.services import Registry
from modelyard.usage.report import EventFilter, Status

RANGES: dict[str, tuple[str, timedelta | None]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "all": ("All time", None),
}
DEFAULT_RANGE = "7d"
STATUSES: tuple[Status, ...] = ("ok", "error", "aborted")
# The longest text each filter may hold: the column it is compared with.
LIMITS = {"user": 320, "model": 200, "provider": 64}
# How deep the pages go (and the CSV file): skipping rows costs a read of each of them.
DEPTH = 5_000
FIELDS = ("range", "since", "until", "user", "model", "provider", "status")


@dataclass
class Filters:
    """What the form shows (``values``: the text as typed), what the report is asked
    (``events``), and the problems found (``errors``; then ``events`` is None)."""

    values: dict[str, str] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)
    events: EventFilter | None = None
    offset: int = 0
    since: datetime | None = None  # the range in effect, for the page's heading
    until: datetime | None = None

    def query(self, **changes: str) -> str:
        """The filters as a query string (without the offset), with ``changes``."""
        pairs = {k: v for k, v in (self.values | changes).items() if v}
        return urlencode(pairs)


def _text(params: QueryParams, name: str, errors: FormErrors) -> str:
    value = params.get(name, "")
    problem = unstorable(value)
    if problem:
        errors.add(name, f"This {problem}.")
        return ""
    value = value.strip()
    limit = LIMITS.get(name)
    if limit is not None and len(value) > limit:
        errors.add(name, f"Enter at most {limit} characters.")
    return value


def _day(value: str, name: str, errors: FormErrors) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors.add(name, "Enter a date as YYYY-MM-DD.")
        return None
    if not date(1, 1, 2) <= day <= date(9999, 12, 29):
        errors.add(name, "Enter a date between the years 1 and 9999.")
        return None
    return day


def _offset(params: QueryParams, errors: FormErrors) -> int:
    raw = params.get("offset", "0").strip() or "0"
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        errors.add(None, "The page asked for does not exist: start again from the first page.")
        return 0
    if int(raw) >= DEPTH:
        errors.add(
            None,
            f"Only the newest {DEPTH:,} calls of a search are listed: narrow the "
            "period or the filters to see older ones.",
        )
        return 0
    return int(raw)


async def read_filters(
    registry: Registry, actor: Actor, params: QueryParams, now: datetime
) -> Filters:
    """The page's filters from ``params``. An admin's ``user`` is an email; a ``user_id``
    (a link from the dashboard) that is not a user's id answers 404, as does any ``user_id``
    from a member but their own."""
    found = Filters()
    errors = found.errors
    values = {name: _text(params, name, errors) for name in FIELDS}
    if not actor.is_admin:
        values["user"] = ""
    found.values = values
    found.offset = _offset(params, errors)

    user_id = await _user(registry, actor, params, values, errors)
    status = values["status"]
    if status and status not in STATUSES:
        errors.add("status", f"Choose one of {', '.join(STATUSES)}.")

    since_day = _day(values["since"], "since", errors)
    until_day = _day(values["until"], "until", errors)
    if since_day and until_day and until_day < since_day:
        errors.add("until", "The end date must not be before the start date.")
    if since_day or until_day:
        values["range"] = "custom"
        found.since = datetime.combine(since_day, time(), UTC) if since_day else None
        found.until = (
            datetime.combine(until_day + timedelta(days=1), time(), UTC) if until_day else None
        )
    else:
        chosen = values["range"] or DEFAULT_RANGE
        if chosen == "custom":
            errors.add("range", "Enter a From or To day, or choose another period.")
        elif chosen not in RANGES:
            errors.add("range", "Choose one of the periods listed.")
        values["range"] = chosen if chosen in RANGES or chosen == "custom" else DEFAULT_RANGE
        span = RANGES.get(chosen, RANGES[DEFAULT_RANGE])[1]
        found.since = now - span if span else None
    if not errors:
        found.events = EventFilter(
            user_id=user_id,
            model=values["model"] or None,
            provider=values["provider"] or None,
            status=status or None,  # checked above
            since=found.since,
            until=found.until,
        )
    return found


async def _user(
    registry: Registry,
    actor: Actor,
    params: QueryParams,
    values: dict[str, str],
    errors: FormErrors,
) -> uuid.UUID | None:
    """The user asked about: a member always themselves; an admin by email or id."""
    raw_id = params.get("user_id", "").strip()
    if raw_id:
        try:
            uid = uuid.UUID(raw_id)
        except ValueError:
            raise not_found() from None
        if not actor.is_admin:
            if uid != actor.user_id:
                raise not_found()
            return None
        try:
            person = await registry.users.get(actor, uid)
        except NotFound:
            raise not_found() from None
        values["user"] = person.email
        return uid
    email = values["user"]
    if not email or not actor.is_admin or errors.get("user"):
        return None
    try:
        return (await registry.users.by_email(actor, email)).id
    except NotFound:
        errors.add("user", "No user has this email address.")
        return None
