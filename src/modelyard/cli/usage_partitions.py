"""``modelyard usage partitions [--maintain]``: the monthly partitions of the usage table on
PostgreSQL (month, rows, size), and one maintenance run on demand: months made ahead, rows
waiting in the default partition moved, months past ``usage.retention_months`` dropped once
their roll-ups are checked (see :mod:`modelyard.usage.partitions`). On SQLite the calls are
one table and there is nothing to list."""

from __future__ import annotations

from typing import Any

from modelyard.errors import Conflict
from modelyard.services import Registry
from modelyard.usage.partitions import Maintenance, PartitionView, listing, maintain

from ._common import ACTOR, emit, note, run, table
from ._tables import Col

HEADINGS = ("partition", "month", Col("rows", right=True), Col("size", right=True), "state")


def partitions(maintain_now: bool, as_json: bool) -> None:
    done, views = run(lambda r: _work(r, maintain_now))
    if done is not None and not done.ran:
        raise Conflict(
            "another replica is maintaining the usage partitions right now; try again shortly",
            code="PARTITIONS_BUSY",
        )
    data: dict[str, Any] = {"partitions": views}
    if done is not None:
        data["maintenance"] = done
    emit(data, as_json, lambda: _render(views, done))


async def _work(r: Registry, maintain_now: bool) -> tuple[Maintenance | None, list[PartitionView]]:
    if not r.db.is_postgres:
        raise Conflict(
            "usage is partitioned on PostgreSQL only; on SQLite every call is in one table",
            code="NOT_PARTITIONED",
        )
    done = await maintain(r.db, actor=ACTOR) if maintain_now else None
    return done, await listing(r.db)


def _render(views: list[PartitionView], done: Maintenance | None) -> None:
    if done is not None:
        note(f"created: {', '.join(done.created) or 'none'}")
        for d in done.dropped:
            refilled = ", ".join(day.isoformat() for day in d.refilled_days) or "none"
            note(f"dropped {d.name}: {d.rows} rows (roll-up days refilled: {refilled})")
        if done.discarded:
            note(f"late rows of months past retention deleted: {', '.join(done.discarded)}")
        if done.waited:
            note(f"locks not had in time (next run): {', '.join(done.waited)}")
    table(
        HEADINGS,
        [
            (
                v.name,
                v.month.strftime("%Y-%m") if v.month else "default",
                v.rows,
                _size(v.bytes),
                "attached" if v.attached else "detached",
            )
            for v in views
        ],
        title="usage_events partitions",
    )


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    amount = size / 1024
    for unit in ("kB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            break
        amount /= 1024
    return f"{amount:.1f} {unit}"
