"""The provider forms: which fields a kind takes (read from the kind itself, so a plug-in
kind gets a form too), reading a posted form into the provider service's spec, and a domain
error as messages beside the fields it names.

A kind whose config holds only text settings gets one input per setting (``config.<name>``,
its description as help); any other config (the declarative kind's request and reply
mapping, the fake kind's behaviour) is edited as JSON in one monospace textarea, whose
errors name their JSON path (``config.request_builder.payload_structure.model.source``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError
from starlette.datastructures import FormData

from modelyard.adapters.openai import ADAPTER as OPENAI_ADAPTER
from modelyard.api.web.console.form_errors import FormErrors
from modelyard.api.web.forms import text
from modelyard.errors import ModelyardError
from modelyard.kinds.base import Kind, kinds

NUMBERS = ("timeout_ms", "max_parallel", "rpm_limit", "tpm_limit", "weight")
TEXTS = ("name", "display_name", "description", "base_url", "organization")


@dataclass(frozen=True)
class Setting:
    """One text setting of a kind's config: an input named ``config.<name>``."""

    name: str
    label: str
    help: str
    required: bool


@dataclass(frozen=True)
class KindForm:
    name: str
    default_base_url: str | None
    key: Literal["required", "optional", "depends"]
    settings: tuple[Setting, ...]
    json_config: bool  # the config is edited as JSON
    organization: bool  # sent as OpenAI-Organization by OpenAI's adapter

    @property
    def field_names(self) -> set[str]:
        names = {*TEXTS, *NUMBERS, "api_key", "custom_headers", "enabled", "is_default"}
        names.add("owner")
        names.update(f"config.{s.name}" for s in self.settings)
        if self.json_config:
            names.add("config")
        return names


def kind_forms() -> dict[str, KindForm]:
    """A form for every installed kind, by name."""
    return {name: form_of(kind) for name, kind in sorted(kinds().items())}


def form_of(kind: Kind) -> KindForm:
    fields = kind.config_model.model_fields
    simple = all(f.annotation in (str, str | None) for f in fields.values())
    settings = tuple(
        Setting(
            name,
            name.replace("_", " ").capitalize(),
            _help(f.description, f.default),
            f.is_required(),
        )
        for name, f in fields.items()
    )
    try:
        needs_key: bool | None = kind.requires_key(kind.config_model())
    except ValidationError:  # no default config: whether a key is needed depends on it
        needs_key = None
    key: Literal["required", "optional", "depends"] = (
        "depends" if needs_key is None else "required" if needs_key else "optional"
    )
    return KindForm(
        kind.name,
        kind.default_base_url,
        key,
        settings if simple else (),
        not simple,
        kind.adapter is OPENAI_ADAPTER,
    )


def _help(description: str | None, default: Any) -> str:
    parts = [description.rstrip(".")] if description else []
    if isinstance(default, str) and default:
        parts.append(f"default {default}")
    return "; ".join(parts).capitalize() + ("." if parts else "")


@dataclass
class Posted:
    """A provider form as sent: ``values`` to show again, ``spec`` for the service (only
    what was filled in), ``errors`` found before the service was asked."""

    values: dict[str, str]
    spec: dict[str, Any]
    errors: FormErrors


def read_provider(form: FormData, kind: KindForm, *, creating: bool) -> Posted:
    """The provider fields of ``form``. Creating, an empty field is left out (the kind's
    default); editing, every field is sent (an emptied organization is cleared)."""
    values = {name: text(form, name) for name in kind.field_names if name != "api_key"}
    errors = FormErrors()
    spec = _texts(values, kind, creating) | _numbers(values, errors)
    spec["custom_headers"] = _headers(values["custom_headers"], errors)
    config = _config(form, kind, values, errors)
    if config is not None:
        spec["config"] = config
    if creating:
        spec["enabled"] = values["enabled"] == "on"
        spec["is_default"] = values["is_default"] == "on"
        key = text(form, "api_key")
        if key:
            spec["api_key"] = key
        if values["owner"] in ("system", "me"):
            spec["owner"] = values["owner"]
    return Posted(values, spec, errors)


def _texts(values: dict[str, str], kind: KindForm, creating: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for name in TEXTS:
        value = values[name].strip()
        if value:
            spec[name] = value
        elif name == "organization" and not creating:
            spec[name] = None
    if not kind.organization:
        spec.pop("organization", None)
    return spec


def _numbers(values: dict[str, str], errors: FormErrors) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for name in NUMBERS:
        raw = values[name].strip()
        if raw:
            try:
                spec[name] = int(raw)
            except ValueError:
                errors.add(name, "must be a whole number")
    return spec


def _headers(raw: str, errors: FormErrors) -> dict[str, str]:
    """``Name: value`` lines as a header dict (the service checks names and values)."""
    headers: dict[str, str] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            errors.add("custom_headers", f"line {number}: write one 'Name: value' per line")
            return {}
        headers[name.strip()] = value.strip()
    return headers


def _config(
    form: FormData, kind: KindForm, values: dict[str, str], errors: FormErrors
) -> dict[str, Any] | None:
    if kind.json_config:
        raw = values["config"].strip()
        if not raw:
            return {}
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            where = (
                f" (line {exc.lineno}, column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            errors.add("config", f"config: is not valid JSON{where}")
            return None
        if not isinstance(document, dict):
            errors.add("config", "config: must be a JSON object ({...})")
            return None
        return document
    config = {}
    for setting in kind.settings:
        value = text(form, f"config.{setting.name}").strip()
        if value:
            config[setting.name] = value
    return config


def config_json(config: dict[str, Any]) -> str:
    """A stored config as the JSON editor shows it."""
    return json.dumps(config, indent=2, ensure_ascii=False) if config else ""


def provider_errors(exc: ModelyardError, kind: KindForm) -> FormErrors:
    """``exc`` beside the fields it names. A config error in the JSON editor keeps its JSON
    path; several errors of one field are shown together."""
    errors = FormErrors()
    names = kind.field_names
    found = exc.details.get("errors") if isinstance(exc.details, dict) else None
    if not isinstance(found, list) or not found:
        about = "name" if exc.code == "NAME_TAKEN" else None
        errors.add(about, exc.message)
        return errors
    for item in found:
        path = str(item.get("path", "")) if isinstance(item, dict) else ""
        message = str(item.get("message", "")) if isinstance(item, dict) else str(item)
        head = path.split(".")[0]
        if path in names:
            _add(errors, path, message)
        elif head == "config" and kind.json_config:
            _add(errors, "config", f"{path}: {message}")
        elif head in names:
            _add(errors, head, f"{path}: {message}")
        else:
            errors.add(None, f"{path}: {message}" if path else message)
    return errors


def _add(errors: FormErrors, name: str, message: str) -> None:
    before = errors.fields.get(name)
    errors.fields[name] = f"{before}; {message}" if before else message
