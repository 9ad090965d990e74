"""The audit trail page's filters, read from its query string: dates (From and To, whole
UTC days, To included), who acted, the action, the entity, and where the page starts
(``before``: the events older than that one). A value that cannot be used is an error
beside its field, never a 500."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from modelyard.api.web.console.form_errors import FormErrors, form_errors
from modelyard.errors import ModelyardError, check
from modelyard.registry.audit_log import AuditFilter
from modelyard.registry.fields import EARLIEST, INT64_MAX, LATEST, unstorable

FIELDS = ("since", "until", "actor", "action", "entity_type", "entity_id")
PAGE_SIZE = 20


@dataclass
class AuditQuery:
    values: dict[str, str]  # as typed, for the form
    filters: AuditFilter | None  # None when a value is wrong
    before: int | None = None
    errors: FormErrors = field(default_factory=FormErrors)

    def base(self) -> str:
        """The page's URL with these filters, ready for ``before=`` (the pager's)."""
        kept = {k: v for k, v in self.values.items() if v}
        return "/console/audit?" + (urlencode(kept) + "&" if kept else "")


def _day(value: str, name: str, errors: FormErrors) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.add(name, "must be a date: YYYY-MM-DD")
        return None


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def read_query(params: QueryParams) -> AuditQuery:
    """The filters in ``params`` (the page's form) and where the page starts (the pager's links)."""
    errors = FormErrors()
    values: dict[str, str] = {}
    for name in FIELDS:
        value = params.get(name, "").strip()
        if unstorable(value):
            errors.add(name, "holds characters that cannot be accepted")
            value = ""
        values[name] = value
    query = AuditQuery(values, None, errors=errors)
    raw_before = params.get("before", "").strip()
    if raw_before:
        digits = raw_before.isascii() and raw_before.isdigit() and len(raw_before) <= 19
        if not digits or int(raw_before) > INT64_MAX:
            errors.add(None, "The page's starting point (before) must be an event number.")
        else:
            query.before = int(raw_before)
    since, until = _day(values["since"], "since", errors), _day(values["until"], "until", errors)
    if since and until and until < since:
        errors.add("until", "must not be before From")
    if errors:
        return query
    raw: dict[str, object] = {name: values[name] or None for name in FIELDS[2:]}
    # To is a whole day, included: the filter ends where the next day starts. A bound past
    # the times any column holds is no bound at all.
    start = _start(since) if since else None
    end = _start(until + timedelta(days=1)) if until and until < date.max else None
    raw["since"] = start if start and start > EARLIEST else None
    raw["until"] = end if end and end < LATEST else None
    try:
        query.filters = check(AuditFilter, raw)
    except ModelyardError as exc:
        query.errors = form_errors(exc, {name: name for name in FIELDS})
    return query
