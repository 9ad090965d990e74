"""What an import did, or would do: one line per thing it looked at, and every entry of the
input that modelyard cannot honour (never silently dropped)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["created", "updated", "unchanged", "unsupported"]


@dataclass(frozen=True)
class Change:
    action: Action
    entity: str  # provider | model | price | setting | plan | entry
    name: str  # what it is called: a provider name, provider/model, a setting key, a path
    detail: str = ""


@dataclass
class ImportReport:
    format: str
    source: str
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    backup: str | None = None  # where the backup was written (CLI), or "inline" (REST)
    backup_document: dict[str, Any] | None = None

    def add(self, action: Action, entity: str, name: str, detail: str = "") -> None:
        self.changes.append(Change(action, entity, name, detail))

    def unsupported(self, name: str, detail: str) -> None:
        self.add("unsupported", "entry", name, detail)

    @property
    def changed(self) -> bool:
        return any(c.action in {"created", "updated"} for c in self.changes)

    def counts(self) -> dict[str, int]:
        found = {a: 0 for a in ("created", "updated", "unchanged", "unsupported")}
        for change in self.changes:
            found[change.action] += 1
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "source": self.source,
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "changes": [vars(c) for c in self.changes],
            "backup": self.backup,
        }
