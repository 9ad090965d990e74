"""What the CLI and the REST API call: read a file in any format, import it (or dry-run it),
export the registry. Admins only; every change through the registry services, audited with
the acting admin, in one transaction; a real import writes a backup first.

Formats: ``modelyard`` (an export, JSON or YAML), ``litellm`` (LiteLLM's ``config.yaml``),
``seed004`` (seed 004's ``config/admin_settings.json``). Without one, the format is told from
the content: an export names its format, a LiteLLM config has a ``model_list``, any other
JSON object is read as seed 004's settings.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Literal

import orjson
import yaml

from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.transfer.apply import Applier
from modelyard.transfer.document import FORMAT, VERSION, Incoming, dumps, export_document
from modelyard.transfer.litellm import read_litellm
from modelyard.transfer.report import ImportReport
from modelyard.transfer.schema import checked
from modelyard.transfer.sealing import Sealer
from modelyard.transfer.seed004 import read_seed004

Format = Literal["seed004", "litellm", "modelyard"]
FORMATS: tuple[Format, ...] = ("seed004", "litellm", "modelyard")
BackupWriter = Callable[[bytes], str]  # stores a backup, says where
MAX_INT = 2**63  # JSON's integers as modelyard stores them: signed 64 bits
MAX_DEPTH = 32  # a registry document nests 7 levels; a setting's value may nest more
MAX_VALUES = 200_000  # in a YAML file, aliases expanded (a large registry holds ~20k)


class _Rollback(Exception):
    """Ends a dry run's transaction without committing it."""


def parse(text: str | bytes, source: str) -> tuple[Any, bool]:
    """The file's content (JSON first, else YAML) and whether it was JSON; a clear error
    naming the file and where in it, never a traceback."""
    try:
        return _shallow(orjson.loads(text), source), True
    except orjson.JSONDecodeError as json_error:
        head = text.lstrip()[:1]
        if head in {"{", "[", b"{", b"["}:
            raise ValidationFailed.at(source, f"is not valid JSON ({json_error})") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "unreadable"
        raise ValidationFailed.at(source, f"is not valid YAML{where}: {problem}") from None
    except RecursionError:  # the loader recurses once per level
        raise ValidationFailed.at(source, f"nests deeper than {MAX_DEPTH} levels") from None
    return _Plain(source).value(_shallow(loaded, source), ""), False


def _shallow(data: Any, source: str) -> Any:
    """``data`` when it nests at most ``MAX_DEPTH`` levels and holds at most ``MAX_VALUES``
    values (each alias counted as often as it is used); walked without recursion, so that
    everything after it (which recurses) may."""
    stack, left = [(data, 0)], MAX_VALUES
    while stack:
        value, depth = stack.pop()
        left -= 1
        if left < 0:
            raise ValidationFailed.at(
                source, f"holds more than {MAX_VALUES} values once its YAML aliases are expanded"
            )
        if depth > MAX_DEPTH:
            raise ValidationFailed.at(source, f"nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return data


class _Plain:
    """YAML's values as JSON holds them (after :func:`_shallow` bounded their number, an alias
    repeated in aliases expanding without bound, and their depth): dates as ISO strings; keys
    other than strings, other types (sets, bytes) and numbers JSON cannot hold refused, naming
    the place."""

    def __init__(self, source: str) -> None:
        self.source = source

    def value(self, value: Any, path: str) -> Any:
        if isinstance(value, dict):
            plain: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValidationFailed.at(
                        path or self.source, f"has a key that is not a string: {key!r}"
                    )
                plain[key] = self.value(item, f"{path}.{key}" if path else key)
            return plain
        if isinstance(value, list):
            return [self.value(item, f"{path}[{index}]") for index, item in enumerate(value)]
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationFailed.at(path or self.source, "must be a finite number")
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not -MAX_INT <= value < MAX_INT
        ):
            raise ValidationFailed.at(path or self.source, "must be a whole number within 64 bits")
        if value is None or isinstance(value, str | int | float):
            return value
        raise ValidationFailed.at(
            path or self.source, f"a {type(value).__name__} is not a value a document holds"
        )


def detect(data: Any, was_json: bool, source: str) -> Format:
    if isinstance(data, dict):
        if data.get("format") == FORMAT:
            return "modelyard"
        if "model_list" in data:
            return "litellm"
        if was_json:
            return "seed004"
    raise ValidationFailed.at(source, "cannot tell its format; give --format " + "|".join(FORMATS))


def read(
    data: Any,
    fmt: Format,
    *,
    environ: Mapping[str, str],
    sealer: Sealer,
    with_secrets: bool,
) -> Incoming:
    if fmt == "seed004":
        return read_seed004(data)
    if fmt == "litellm":
        return read_litellm(data, environ)
    return read_modelyard(data, sealer, with_secrets)


def read_modelyard(data: Any, sealer: Sealer, with_secrets: bool) -> Incoming:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationFailed.at("format", f"must be {FORMAT!r} (a modelyard export)")
    if data.get("version") != VERSION:
        raise ValidationFailed.at("version", f"must be {VERSION}; this modelyard reads {VERSION}")
    for name, kind in (("providers", list), ("settings", dict), ("plans", list)):
        if not isinstance(data.get(name, kind()), kind):
            raise ValidationFailed.at(name, f"must be a {kind.__name__}")
    incoming = Incoming(format="modelyard", document=data, partial=False)
    names: set[str] = set()
    for index, provider in enumerate(data.get("providers", [])):
        where = f"providers[{index}]"
        if not isinstance(provider, dict) or not isinstance(provider.get("name"), str):
            raise ValidationFailed.at(where, "must be an object with a name")
        if provider["name"] in names:
            raise ValidationFailed.at(f"{where}.name", f"{provider['name']!r} appears twice")
        names.add(provider["name"])
        _models_unique(provider, where)
        sealed = provider.get("api_key")
        if sealed is None:
            continue
        if with_secrets:
            incoming.secrets[provider["name"]] = sealer.open(
                provider["name"], sealed, f"{where}.api_key"
            )
        else:
            incoming.unsupported.append(
                (f"{where}.api_key", "a sealed key: imported only with --with-secrets")
            )
    return incoming


def _models_unique(provider: dict[str, Any], where: str) -> None:
    models = provider.get("models", [])
    if not isinstance(models, list):
        raise ValidationFailed.at(f"{where}.models", "must be a list")
    seen: set[Any] = set()
    for index, model in enumerate(models):
        if not isinstance(model, dict) or not isinstance(model.get("model_id"), str):
            raise ValidationFailed.at(f"{where}.models[{index}]", "must have a model_id")
        if model["model_id"] in seen:
            raise ValidationFailed.at(
                f"{where}.models[{index}].model_id", f"{model['model_id']!r} appears twice"
            )
        seen.add(model["model_id"])


async def import_registry(
    registry: Registry,
    actor: Actor,
    text: str | bytes,
    *,
    source: str,
    fmt: Format | None = None,
    dry_run: bool = False,
    with_secrets: bool = False,
    passphrase: str | None = None,
    environ: Mapping[str, str] | None = None,
    backup: BackupWriter | None = None,
) -> ImportReport:
    """Import ``text`` (the content of ``source``); ``backup`` stores the export of the
    registry as it was before a real import that changes something (it runs before the
    commit; if it fails, nothing changes). Without ``backup`` the report carries it."""
    actor.require_admin("import into the registry")
    sealer = Sealer(registry.db.keyring, passphrase)

    def understand() -> tuple[Format, Incoming]:
        data, was_json = parse(text, source)
        chosen = fmt or detect(data, was_json, source)
        found = read(data, chosen, environ=environ or {}, sealer=sealer, with_secrets=with_secrets)
        found.document = checked(found.document)
        return chosen, found

    # parsing a large file and scrypt for passphrase-sealed keys take seconds of CPU: off the
    # event loop, so the gateway keeps serving meanwhile
    read_as, incoming = await asyncio.to_thread(understand)
    report = ImportReport(format=read_as, source=source, dry_run=dry_run)
    for where, why in incoming.unsupported:
        report.unsupported(where, why)
    try:
        async with registry.db.write(actor) as tx:
            keep = Sealer(registry.db.keyring) if registry.db.keyring is not None else None
            unreadable: list[str] = []
            before = await export_document(tx, keep, unreadable)
            for name in unreadable:
                report.unsupported(f"{name}.api_key", "cannot be opened here: not in the backup")
            await Applier(tx, registry.db, report, incoming.secrets, incoming.partial).apply(
                incoming.document
            )
            if dry_run:
                raise _Rollback
            if report.changed:
                if backup is not None:
                    report.backup = backup(dumps(before))
                else:
                    report.backup, report.backup_document = "inline", before
    except _Rollback:
        pass
    return report


async def export_registry(
    registry: Registry, actor: Actor, *, with_secrets: bool = False, passphrase: str | None = None
) -> dict[str, Any]:
    """The whole registry as a document; keys only ``with_secrets``, and then sealed (by the
    passphrase when one is given, else by the master key)."""
    actor.require_admin("export the registry")
    sealer = Sealer(registry.db.keyring, passphrase) if with_secrets else None
    async with registry.db.read(actor) as tx:
        return await export_document(tx, sealer)
