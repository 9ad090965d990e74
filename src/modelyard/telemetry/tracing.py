"""The tracer the server's hooks are handed when traces are configured.

Imported only then (:mod:`modelyard.telemetry.setup`): it imports OpenTelemetry's API. A
request becomes a SERVER span that continues the caller's W3C ``traceparent``
(:meth:`Tracing.serve`); the gateway opens its children (:meth:`Tracing.child`) while the
request's span is the current one. A failure sets the span's status to ERROR with
``error.type`` (the exception's class or the domain error's code), never its message: an
upstream's message may quote the key it was sent. The tracer provider is this server's own,
never the process-global one, so no other library's spans ride along.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Any, Any], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
Attributes = dict[str, AttributeValue]


class _AsgiHeaders(Getter[Headers]):
    """W3C trace context read straight from an ASGI scope's header list."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_HEADERS = _AsgiHeaders()
_PROPAGATOR = TraceContextTextMapPropagator()


class Tracing:
    """Spans of this server, made by ``provider``; ``close`` flushes and stops the export."""

    def __init__(
        self, provider: trace.TracerProvider, close: Callable[[], object] | None = None
    ) -> None:
        self.tracer = provider.get_tracer("modelyard")
        self._close = close

    async def serve(self, app: Asgi, name: str, scope: Scope, receive: Any, send: Any) -> None:
        """Run ``app`` on an HTTP request inside a SERVER span named ``name`` (a method and a
        route, never a path with ids in it), a child of the caller's ``traceparent`` if it
        sent one. The span ends when the answer is complete (a stream's last byte)."""
        parent = _PROPAGATOR.extract(scope["headers"], getter=_HEADERS)
        attributes: Attributes = {
            "http.request.method": scope["method"],
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        span = self.tracer.start_span(name, parent, SpanKind.SERVER, attributes)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        status = 0

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, sending)
        except BaseException as exc:
            failed(span, exc)
            raise
        finally:
            otel_context.detach(token)
            if status:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                    if "error.type" not in _attributes(span):
                        span.set_attribute("error.type", str(status))
            if scope.get("route") is not None:  # the admin API's, once Starlette routed it
                route = _template(scope)
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)
            span.end()

    def current(self) -> Span | None:
        """The current span if it records (it was sampled), else None: nothing to annotate."""
        span = trace.get_current_span()
        return span if span.is_recording() else None

    def child(self, name: str, attributes: Attributes, *, client: bool = False) -> Span:
        """A span under the current one (not made current: see :meth:`enter`)."""
        kind = SpanKind.CLIENT if client else SpanKind.INTERNAL
        return self.tracer.start_span(name, kind=kind, attributes=attributes)

    @staticmethod
    def enter(span: Span) -> object:
        """Make ``span`` the current one; hand the token to :meth:`leave`."""
        return otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def leave(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    @staticmethod
    def failed(span: Span, exc: BaseException | None, code: str | None = None) -> None:
        """See :func:`failed`."""
        failed(span, exc, code)

    def close(self) -> None:
        """Flush what is queued and stop exporting (blocking: run it off the event loop)."""
        if self._close is not None:
            self._close()


def failed(span: Span, exc: BaseException | None, code: str | None = None) -> None:
    """Mark ``span`` failed: ``error.type`` is ``code`` (a domain error's stable code) or the
    exception's class; the message is never recorded (it may quote an upstream's text)."""
    span.set_status(Status(StatusCode.ERROR))
    kind = type(exc).__qualname__ if exc is not None else None
    span.set_attribute("error.type", code or kind or "error")
    if kind is not None:
        span.set_attribute("exception.type", kind)


def _template(scope: Scope) -> str:
    """The routed path with its parameters' values as ``{name}``: few span names, no ids."""
    path: str = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        if str(value):
            path = path.replace(str(value), "{" + name + "}", 1)
    return path


def _attributes(span: Span) -> Iterable[str]:
    return getattr(span, "attributes", None) or ()
