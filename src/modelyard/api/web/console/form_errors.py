"""A domain error shown on the form that caused it: each message beside the field it names
(``errors[].path`` of a VALIDATION_FAILED, or the field a conflict is about), the rest at
the top of the form. Nothing was saved when a form comes back with errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from modelyard.errors import ModelyardError


@dataclass
class FormErrors:
    fields: dict[str, str] = field(default_factory=dict)  # form field name: message
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def get(self, name: str) -> str:
        return self.fields.get(name, "")

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.fields.setdefault(name, message)


def form_errors(
    exc: ModelyardError, fields: Mapping[str, str] | None = None, *, about: str | None = None
) -> FormErrors:
    """``exc`` as form errors. ``fields`` maps an error path (``price.input_per_mtok``, or
    its first part) to the form field showing it (default: the path itself when the form
    has it, else the top); ``about`` is the field a non-validation error belongs to (the
    name, for NAME_TAKEN)."""
    known = dict(fields or {})
    errors = FormErrors()
    found = exc.details.get("errors") if isinstance(exc.details, dict) else None
    if isinstance(found, list) and found:
        for item in found:
            path = str(item.get("path", "")) if isinstance(item, dict) else ""
            message = str(item.get("message", "")) if isinstance(item, dict) else str(item)
            name = known.get(path) or known.get(path.split(".")[0])
            if name is None and fields is None:
                name = path or None
            errors.add(name, message if name else f"{path}: {message}" if path else message)
        return errors
    errors.add(about, exc.message)
    return errors
