"""How the Infrastructure panel shows and reads each system setting: grouped by theme,
with a form control suited to its type (a select of models for a model reference, a select
for a choice or a switch, a text field for a number, a JSON editor for a structured value),
and the domain's error put into words beside it (a JSON value's errors name their path)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args, get_origin

import orjson
from markupsafe import Markup

from modelyard.errors import ModelyardError
from modelyard.registry.system_settings import KNOWN, SettingView

Kind = Literal["model", "choice", "number", "json"]

# (anchor, heading, does the setting belong here): the first theme that takes it wins.
THEMES: tuple[tuple[str, str, Any], ...] = (
    ("defaults", "Default model for each purpose", lambda k: k in KNOWN and KNOWN[k].model_ref),
    (
        "retries",
        "Retries and fallbacks",
        lambda k: k in ("gateway.retry", "gateway.fallback_to_active_provider"),
    ),
    ("deprecated", "Deprecated models", lambda k: k == "models.deprecated_policy"),
    ("credits", "Credits and billing", lambda k: k.startswith("billing.")),
    (
        "limits",
        "Limits",
        lambda k: (
            k.startswith("graphql.limits")
            or k
            in (
                "gateway.completion_estimate_tokens",
                "gateway.idempotency_ttl_s",
                "responses.retention_days",
                "auth.login_throttle",
            )
        ),
    ),
    ("sign-in", "Sign-in and tokens", lambda k: k.startswith("auth.")),
    ("security", "Security and the GraphQL API", lambda k: k.startswith(("security.", "graphql."))),
    ("other", "Other settings", lambda k: True),
)


@dataclass
class Control:
    setting: SettingView
    kind: Kind
    slug: str  # for the element ids
    text: str  # the value as the control shows it
    default: str  # the default, as text
    choices: tuple[tuple[str, str], ...] = ()
    error: str = ""

    @property
    def now(self) -> str:
        """The stored value in words (a choice's label), whatever was typed since."""
        shown = as_text(self.kind, self.setting.value)
        return _label(self.choices, shown)


@dataclass
class Theme:
    anchor: str
    heading: str
    controls: list[Control]


def slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", key)


def kind_of(key: str) -> tuple[Kind, tuple[tuple[str, str], ...]]:
    found = KNOWN.get(key)
    if found is None:
        return "json", ()
    if found.model_ref:
        return "model", ()
    kind = found.type
    if kind is bool:
        return "choice", (("true", "On"), ("false", "Off"))
    if get_origin(kind) is Literal:
        return "choice", tuple((str(v), str(v)) for v in get_args(kind))
    if get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if kind in (int, Decimal):
        return "number", ()
    return "json", ()


def as_text(kind: Kind, value: Any) -> str:
    if value is None:
        return ""
    if kind == "json":
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def controls(settings: list[SettingView]) -> list[Theme]:
    themes = [Theme(anchor, heading, []) for anchor, heading, _ in THEMES]
    for setting in settings:
        kind, choices = kind_of(setting.key)
        control = Control(
            setting,
            kind,
            slug(setting.key),
            as_text(kind, setting.value),
            _label(choices, as_text(kind, setting.default)),
            choices,
        )
        for theme, (_, _, belongs) in zip(themes, THEMES, strict=True):
            if belongs(setting.key):
                theme.controls.append(control)
                break
    return [t for t in themes if t.controls]


def _label(choices: tuple[tuple[str, str], ...], value: str) -> str:
    return dict(choices).get(value, value)


class BadJSON(Exception):
    """The JSON editor's text is not JSON; the message says where."""


def value_of(key: str, typed: str) -> Any:
    """The value the form's text stands for, as the settings service takes it."""
    kind, _ = kind_of(key)
    if kind == "model":
        return typed.strip() or None
    if kind == "choice" and KNOWN[key].type is bool:
        return {"true": True, "false": False}.get(typed, typed)
    if kind in ("choice", "number"):
        return typed.strip()
    try:
        return orjson.loads(typed)
    except orjson.JSONDecodeError as exc:
        raise BadJSON(f"This is not valid JSON: {exc}") from None


def message_of(key: str, exc: ModelyardError) -> str:
    """The error in words, each problem of a JSON value named by its path in it
    (``schedule_ms[1]``)."""
    found = exc.details.get("errors") if isinstance(exc.details, dict) else None
    if not isinstance(found, list) or not found:
        return exc.message
    parts = []
    prefix = f"value[{key}]"
    for item in found:
        path = str(item.get("path", "")) if isinstance(item, dict) else ""
        text = str(item.get("message", "")) if isinstance(item, dict) else str(item)
        where = _json_path(path.removeprefix(prefix)) if path.startswith(prefix) else ""
        parts.append(f"at {where}: {text}" if where else text)
    return "; ".join(parts)


def _json_path(dotted: str) -> str:
    """``.schedule_ms.1`` -> ``schedule_ms[1]``; ``.0`` -> ``[0]``."""
    out = ""
    for part in dotted.split(".")[1:]:
        out += f"[{part}]" if part.isdigit() else f".{part}" if out else part
    return out


class ModelChoices:
    """The options of the model settings' selects, written once per page (2,000 models
    make 2,000 options; three selects share them, each marking its own value)."""

    _GROUP = Markup('<optgroup label="{}">{}</optgroup>')
    _OPTION = Markup('<option value="{}">{}</option>')
    _CHOSEN = Markup('<option value="{}" selected>{}</option>')

    def __init__(self, groups: list[tuple[str, list[str]]]) -> None:
        self.refs = {ref for _, refs in groups for ref in refs}
        self._html = Markup("").join(
            self._GROUP.format(label, Markup("").join(self._OPTION.format(r, r) for r in refs))
            for label, refs in groups
        )

    def options(self, current: str) -> Markup:
        """Every option, ``current`` selected (listed first when it is no longer one)."""
        none = (self._OPTION if current else self._CHOSEN).format("", "None (no default)")
        if not current:
            return none + self._html
        if current in self.refs:
            mine = self._OPTION.format(current, current)
            return none + self._html.replace(mine, self._CHOSEN.format(current, current), 1)
        stale = self._CHOSEN.format(current, f"{current} (not an active system model)")
        return none + stale + self._html
