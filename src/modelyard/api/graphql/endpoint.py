"""``/graphql``: GraphQL over HTTP in front of the same registry services as REST.

- ``POST`` with a JSON body ``{"query", "variables", "operationName"}`` runs any operation;
  ``GET ?query=...`` runs queries only (a mutation over GET is refused: 405); a browser's
  ``GET`` (``Accept: text/html``) gets GraphiQL, served from this package with no network.
- The credential is the REST API's: ``Authorization: Bearer`` with an API key (``myk_``) or an
  OAuth access token (``myat_``). Without a valid one every operation is refused with 401
  (``WWW-Authenticate: Bearer``) before the document is looked at.
- Answers are ``{"data", "errors"}`` (:mod:`.errors` shapes each error): 200 once the
  document ran, even when fields failed (their errors say why); 400 when it was refused
  before running (unparseable, invalid, over a limit); 413 for a body over the limit.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from modelyard.api.deps import credential_actor
from modelyard.api.graphql import graphiql
from modelyard.api.graphql.context import Context
from modelyard.api.graphql.errors import format_error
from modelyard.api.graphql.nesting import MAX_NESTING, nesting
from modelyard.api.graphql.policy import PolicyCache
from modelyard.api.graphql.schema import schema
from modelyard.api.security import challenge
from modelyard.errors import ModelyardError, Unauthenticated
from modelyard.faults import as_error
from modelyard.services import Registry

log = logging.getLogger("modelyard.api.graphql")

PATH = "/graphql"
_QUERIES_ONLY: frozenset[OperationType] = frozenset({OperationType.QUERY})
_ANY: frozenset[OperationType] = frozenset({OperationType.QUERY, OperationType.MUTATION})


class _Refused(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
        self.details = details or {}


def _answer(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _refusal(refused: _Refused) -> Response:
    error = {
        "message": refused.message,
        "extensions": {"code": refused.code, "status": refused.status, "details": refused.details},
    }
    return _answer({"errors": [error]}, refused.status, refused.headers)


def _from_domain(error: ModelyardError) -> _Refused:
    asks = challenge(error)
    headers = {"WWW-Authenticate": asks} if asks else None
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers = (headers or {}) | {"Retry-After": str(max(1, int(retry_after)))}
    return _Refused(error.status, error.code, error.message, headers, error.details)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, "PAYLOAD_TOO_LARGE", f"the request body is over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(413, "PAYLOAD_TOO_LARGE", f"the request body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _bad(message: str) -> _Refused:
    return _Refused(400, "BAD_REQUEST", message)


def _params_from_json(body: bytes) -> tuple[Any, Any, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad('the body is not JSON; send {"query": "...", "variables": {...}}') from None
    if isinstance(payload, list):
        raise _bad("batched operations are not accepted; send one operation per request")
    if not isinstance(payload, dict):
        raise _bad('the body must be a JSON object with a "query"')
    return payload.get("query"), payload.get("variables"), payload.get("operationName")


def _params_from_url(request: Request) -> tuple[Any, Any, Any]:
    variables: Any = request.query_params.get("variables")
    if variables is not None:
        try:
            variables = orjson.loads(variables)
        except orjson.JSONDecodeError:
            raise _bad("the variables parameter is not JSON") from None
    return request.query_params.get("query"), variables, request.query_params.get("operationName")


def _checked(
    query: Any, variables: Any, operation: Any
) -> tuple[str, dict[str, Any] | None, str | None]:
    if not isinstance(query, str) or not query.strip():
        raise _bad('no query: send the GraphQL document as "query"')
    if variables is not None and not isinstance(variables, dict):
        raise _bad("variables must be a JSON object")
    if operation is not None and not isinstance(operation, str):
        raise _bad("operationName must be a string")
    if nesting(query) > MAX_NESTING:
        raise _Refused(
            400, "GRAPHQL_NESTING_TOO_DEEP", f"brackets are nested more than {MAX_NESTING} deep"
        )
    return query, variables, operation


def _wants_page(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept and "query" not in request.query_params


class GraphQLEndpoint:
    """``/graphql``'s handler (``routes.py`` mounts :meth:`handle`)."""

    def __init__(self) -> None:
        self.policies = PolicyCache()

    async def handle(self, request: Request) -> Response:
        if request.method not in {"GET", "POST"}:
            return _refusal(
                _Refused(405, "METHOD_NOT_ALLOWED", "use GET or POST", {"Allow": "GET, POST"})
            )
        if _wants_page(request):
            return graphiql.page(request)
        request_id = uuid.uuid4().hex[:16]
        try:
            return await self._run(request, request_id)
        except _Refused as refused:
            return _refusal(refused)
        except Exception as exc:
            error = as_error(exc)
            if not isinstance(exc, ModelyardError):
                log.error(
                    "graphql %s: unexpected %s -> %s", request_id, type(exc).__name__, error.code
                )
            return _refusal(_from_domain(error))

    async def _run(self, request: Request, request_id: str) -> Response:
        registry: Registry = request.app.state.registry
        actor = await self._actor(request, registry)
        policy = await self.policies.current(registry)
        if request.method == "POST":
            params = _params_from_json(await _body(request, policy.limits.max_body_bytes))
            allowed = _ANY
        else:
            params = _params_from_url(request)
            allowed = _QUERIES_ONLY
        query, variables, operation = _checked(*params)
        context = Context(
            registry=registry,
            actor=actor,
            limits=policy.limits,
            introspection=policy.introspection,
            request_id=request_id,
        )
        try:
            result = await schema().execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation,
                allowed_operation_types=allowed,
            )
        except InvalidOperationTypeError:
            raise _Refused(
                405, "METHOD_NOT_ALLOWED", "mutations are sent with POST", {"Allow": "POST"}
            ) from None
        except CannotGetOperationTypeError as exc:
            if exc.operation_name is not None:
                raise _bad(f"the document has no operation named {exc.operation_name!r}") from None
            raise _bad(
                "the document holds no operation, or several: name the one to run in operationName"
            ) from None
        except MissingQueryError as exc:
            raise _bad(str(exc)) from None
        body: dict[str, Any] = {}
        status = 200
        if result.errors:
            body["errors"] = [format_error(e, request_id) for e in result.errors]
            if result.data is None and all(e.path is None for e in result.errors):
                status = 400
        if result.data is not None or status == 200:
            body["data"] = result.data
        return _answer(body, status)

    async def _actor(self, request: Request, registry: Registry) -> Any:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise _from_domain(
                Unauthenticated(
                    "send an API key or OAuth access token as 'Authorization: Bearer <credential>'"
                )
            )
        try:
            return await credential_actor(registry, credential.strip())
        except ModelyardError as error:
            raise _from_domain(error) from None


__all__ = ["PATH", "GraphQLEndpoint"]
