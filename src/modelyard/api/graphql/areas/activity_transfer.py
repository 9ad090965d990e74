"""The registry in and out as a document (REST /api/v1/export and /api/v1/import, admins):
``exportRegistry`` (without keys, as REST's GET /export) and ``importRegistry``."""

from __future__ import annotations

import enum
import os
from typing import Annotated, Any

import orjson
import strawberry
from pydantic import Field, SecretStr

from modelyard.api.graphql.context import Info
from modelyard.api.graphql.scalars import JSON
from modelyard.api.routers.transfer import MAX_CONTENT
from modelyard.errors import ValidationFailed, check
from modelyard.registry.common import Spec
from modelyard.registry.scopes import REGISTRY_READ, REGISTRY_WRITE
from modelyard.transfer.report import ImportReport
from modelyard.transfer.service import export_registry, import_registry


@strawberry.enum(description="What an imported document is.")
class ImportFormat(enum.Enum):
    SEED004 = "seed004"
    LITELLM = "litellm"
    MODELYARD = "modelyard"


@strawberry.type(description="One thing an import looked at and what it did (or would do).")
class ImportChange:
    action: str = strawberry.field(description="created, updated, unchanged or unsupported")
    entity: str = strawberry.field(description="provider, model, price, setting, plan or entry")
    name: str
    detail: str


@strawberry.type(description="What an import did, or would do on a dry run.")
class ImportResult:
    format: str
    source: str
    dry_run: bool
    counts: JSON = strawberry.field(description="changes per action")
    changes: list[ImportChange]
    backup: str | None = strawberry.field(description="inline when backupDocument holds the backup")
    backup_document: JSON | None = strawberry.field(
        description="the registry before this import, as an export (keys sealed)"
    )

    @classmethod
    def of(cls, report: ImportReport) -> ImportResult:
        return cls(
            format=report.format,
            source=report.source,
            dry_run=report.dry_run,
            counts=JSON(report.counts()),
            changes=[
                ImportChange(action=c.action, entity=c.entity, name=c.name, detail=c.detail)
                for c in report.changes
            ],
            backup=report.backup,
            backup_document=None
            if report.backup_document is None
            else JSON(report.backup_document),
        )


class _Options(Spec):
    """importRegistry's arguments besides the document, bounded as REST's."""

    source: str = Field(max_length=200)
    passphrase: SecretStr | None = Field(default=None, max_length=1000)


def _text(document: Any) -> str:
    """The document as the text the import reads: a string is taken as the file's text
    (YAML or JSON), anything else is written as JSON."""
    if isinstance(document, str):
        text = document
    else:
        try:
            text = orjson.dumps(document).decode()
        except orjson.JSONEncodeError:
            raise ValidationFailed.at("document", "nests too deep to be read") from None
    if not 1 <= len(text) <= MAX_CONTENT:
        raise ValidationFailed.at("document", f"must be 1 to {MAX_CONTENT} characters long")
    return text


@strawberry.type
class Query:
    @strawberry.field(
        description="The whole registry as a document, without keys (admins). Scope registry.read."
    )
    async def export_registry(self, info: Info) -> JSON:
        actor = info.context.need(REGISTRY_READ)
        return JSON(await export_registry(info.context.registry, actor))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Import a registry document (admins): a modelyard export, seed 004's"
        " admin_settings.json or LiteLLM's config, as JSON (or a string holding the file's"
        " text, YAML too). A dry run reports what would change and changes nothing; a real"
        " import answers the registry as it was in backupDocument. Scope registry.write."
    )
    async def import_registry(
        self,
        info: Info,
        document: JSON,
        format: Annotated[
            ImportFormat | None,
            strawberry.argument(description="told from the document when left out"),
        ] = None,
        dry_run: bool = False,
        source: Annotated[
            str, strawberry.argument(description="names it in the report")
        ] = "document",
        with_secrets: Annotated[
            bool, strawberry.argument(description="import a modelyard export's keys")
        ] = False,
        passphrase: Annotated[
            str | None, strawberry.argument(description="opens keys sealed with a passphrase")
        ] = None,
    ) -> ImportResult:
        actor = info.context.need(REGISTRY_WRITE)
        options: _Options = check(_Options, {"source": source, "passphrase": passphrase})
        report = await import_registry(
            info.context.registry,
            actor,
            _text(document),
            source=options.source,
            fmt=None if format is None else format.value,
            dry_run=dry_run,
            with_secrets=with_secrets,
            passphrase=options.passphrase.get_secret_value() if options.passphrase else None,
            environ=os.environ,
        )
        return ImportResult.of(report)
