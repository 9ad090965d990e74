"""/api/v1/import and /api/v1/export: the registry in and out as a document (admins only),
the same service as ``modelyard import`` / ``modelyard export``.

An import's backup (the registry as it was, keys sealed by the master key) comes back in the
answer as ``backup_document`` instead of a file; ``os.environ/NAME`` keys in a LiteLLM config
are read from the server's environment.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import Field, SecretStr

from modelyard.api.deps import Reader, RegistryDep, Writer
from modelyard.registry.common import Spec, View
from modelyard.transfer.service import export_registry, import_registry

router = APIRouter(tags=["import/export"])
MAX_CONTENT = 5_000_000


class ImportRequest(Spec):
    content: str = Field(
        min_length=1,
        max_length=MAX_CONTENT,
        description="the file's text: seed 004's admin_settings.json, LiteLLM's config.yaml, "
        "or a modelyard export (JSON or YAML)",
    )
    format: Literal["seed004", "litellm", "modelyard"] | None = Field(
        default=None, description="told from the content when left out"
    )
    source: str = Field(default="request", max_length=200, description="a name for the report")
    dry_run: bool = Field(default=False, description="report what would change; change nothing")
    with_secrets: bool = Field(default=False, description="import a modelyard export's keys")
    passphrase: SecretStr | None = Field(
        default=None, max_length=1000, description="opens keys sealed with a passphrase"
    )


class ExportRequest(Spec):
    with_secrets: bool = Field(default=False, description="include provider keys, sealed")
    passphrase: SecretStr | None = Field(
        default=None,
        max_length=1000,
        description="seal keys with this passphrase (at least 12 characters) instead of the "
        "master key",
    )


class ChangeView(View):
    action: Literal["created", "updated", "unchanged", "unsupported"]
    entity: str
    name: str
    detail: str


class ImportResult(View):
    format: str
    source: str
    dry_run: bool
    counts: dict[str, int]
    changes: list[ChangeView]
    backup: str | None = Field(description="inline when backup_document holds the backup")
    backup_document: dict[str, Any] | None = Field(
        description="the registry before this import, as an export (keys sealed)"
    )


_EXAMPLE = {
    "content": '{"format": "modelyard-registry", "version": 1, "providers": [{"name": "demo", '
    '"kind": "fake", "models": [{"model_id": "demo-model"}]}]}',
    "dry_run": True,
}


@router.post("/import", summary="Import a registry document or another format (admins)")
async def import_document(
    registry: RegistryDep,
    actor: Writer,
    body: Annotated[ImportRequest, Body(openapi_examples={"document": {"value": _EXAMPLE}})],
) -> ImportResult:
    report = await import_registry(
        registry,
        actor,
        body.content,
        source=body.source,
        fmt=body.format,
        dry_run=body.dry_run,
        with_secrets=body.with_secrets,
        passphrase=body.passphrase.get_secret_value() if body.passphrase else None,
        environ=os.environ,
    )
    return ImportResult.model_validate(
        report.as_json() | {"backup_document": report.backup_document}
    )


@router.get("/export", summary="The whole registry as a document, without keys (admins)")
async def export_document(registry: RegistryDep, actor: Reader) -> dict[str, Any]:
    return await export_registry(registry, actor)


@router.post("/export", summary="The whole registry as a document, keys sealed (admins)")
async def export_with_secrets(
    registry: RegistryDep, actor: Writer, body: ExportRequest
) -> dict[str, Any]:
    return await export_registry(
        registry,
        actor,
        with_secrets=body.with_secrets,
        passphrase=body.passphrase.get_secret_value() if body.passphrase else None,
    )
