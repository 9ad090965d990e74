"""A call's spans, when traces are on: the request's span annotated, one child per attempt.

The ``/v1`` handler runs each request in a SERVER span (:mod:`modelyard.telemetry.tracing`);
a :class:`~modelyard.gateway.call.Call` made under it gets a :class:`CallTrace` (else None,
and the hooks cost one ``is None`` check each). The request's span is renamed
``"{operation} {model}"`` and carries the GenAI semantic conventions' attributes
(``gen_ai.*``) with modelyard's own (``modelyard.*``); each try of a candidate is a CLIENT
child named after the upstream model, with its attempt number, whether it is a fallback and
its failure's code, and its upstream HTTP request below it. The winning attempt ends when the
call settles (a stream's end). Neither prompts, completions nor keys are ever recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from modelyard.adapters.base import StreamChunk, Target, Usage
from modelyard.errors import ModelyardError

if TYPE_CHECKING:
    from decimal import Decimal

    from opentelemetry.trace import Span

    from modelyard.gateway.call import Call
    from modelyard.gateway.resolve import Candidate
    from modelyard.telemetry.tracing import Attributes, Tracing

T = TypeVar("T")
# A usage row's operation -> gen_ai.operation.name
OPERATIONS = {
    "chat": "chat",
    "function_call": "chat",
    "embedding": "embeddings",
    "completion": "text_completion",
}
# A provider kind -> gen_ai.provider.name where the conventions name it otherwise
PROVIDER_NAMES = {"gemini": "gcp.gemini"}
# What a call's body says -> gen_ai.request.* (the values only when they are numbers)
REQUEST_NUMBERS = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
}


def provider_name(kind: str) -> str:
    return PROVIDER_NAMES.get(kind, kind)


class CallTrace:
    """The spans of one call: the request's (``span``) and its attempts'."""

    __slots__ = ("kept", "operation", "reasons", "span", "tracing", "tries")

    def __init__(self, tracing: Tracing, span: Span, operation: str) -> None:
        self.tracing, self.span, self.operation = tracing, span, operation
        self.tries = 0  # attempts made, over every candidate
        self.kept: list[Span] = []  # attempts that answered: they end when the call settles
        self.reasons: list[str] = []  # a stream's finish reasons, as its chunks pass

    @classmethod
    def begin(cls, call: Call, tracing: Tracing) -> CallTrace | None:
        """Annotate the request's span with what the call asks; None when it is unsampled."""
        span = tracing.current()
        if span is None:
            return None
        operation = OPERATIONS.get(call.operation, call.operation)
        model = call.body.get("model")
        model = model if isinstance(model, str) else ""
        span.update_name(f"{operation} {model}")
        attributes: Attributes = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": model,
            "modelyard.request_id": call.request_id,
        }
        for name, attribute in REQUEST_NUMBERS.items():
            value = call.body.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attributes[attribute] = value
        span.set_attributes(attributes)
        return cls(tracing, span, operation)

    async def attempt(
        self,
        attempt: Callable[[Candidate, Target, dict[str, Any]], Awaitable[T]],
        candidate: Candidate,
        target: Target,
        upstream: dict[str, Any],
        fallback: bool,
    ) -> T:
        """One try of ``candidate`` in a span of its own, current while it runs (its upstream
        request is its child)."""
        self.tries += 1
        provider = candidate.provider
        span = self.tracing.child(
            f"{self.operation} {target.model_id}",
            {
                "gen_ai.operation.name": self.operation,
                "gen_ai.request.model": target.model_id,
                "gen_ai.provider.name": provider_name(provider.kind),
                "modelyard.provider.id": str(provider.id),
                "modelyard.provider.name": provider.name,
                "modelyard.attempt": self.tries,
                "modelyard.fallback": fallback,
            },
            client=True,
        )
        tracing = self.tracing
        token = tracing.enter(span)
        try:
            result = await attempt(candidate, target, upstream)
        except BaseException as exc:
            tracing.failed(span, exc, exc.code if isinstance(exc, ModelyardError) else None)
            span.end()
            raise
        finally:
            tracing.leave(token)
        self.kept.append(span)
        return result

    def answered(self, result: object) -> None:
        """What the upstream's answer says of itself: its id, model and finish reasons."""
        body = getattr(result, "body", None)
        if isinstance(body, dict):
            self._response(body)

    def first_token(self, ttft_ms: int, first: StreamChunk) -> None:
        """A stream's first chunk arrived: the time it took, and the response's id/model."""
        self.span.set_attribute("modelyard.time_to_first_token_ms", ttft_ms)
        self.span.add_event("gen_ai.first_token", {"modelyard.time_to_first_token_ms": ttft_ms})
        self._response(first.chunk)

    def finished(self, reason: object) -> None:
        """A stream's chunk said why a choice ended."""
        if isinstance(reason, str):
            self.reasons.append(reason)

    def _response(self, body: dict[str, Any]) -> None:
        attributes: Attributes = {}
        for name, attribute in (("id", "gen_ai.response.id"), ("model", "gen_ai.response.model")):
            value = body.get(name)
            if isinstance(value, str):
                attributes[attribute] = value
        reasons = [c.get("finish_reason") for c in body.get("choices") or () if isinstance(c, dict)]
        reasons.append(body.get("stop_reason"))  # Anthropic's Messages API
        found = [r for r in reasons if isinstance(r, str)]
        if found:
            attributes["gen_ai.response.finish_reasons"] = found
        for span in (self.span, *self.kept[-1:]):
            span.set_attributes(attributes)

    def settled(
        self,
        call: Call,
        usage: Usage,
        status: str,
        error_code: str | None,
        cost: Decimal | None,
        credits: Decimal | None,
    ) -> None:
        """The call's outcome on its span; the attempts still open end here."""
        attributes: Attributes = {
            "gen_ai.usage.input_tokens": usage.prompt_tokens,
            "gen_ai.usage.output_tokens": usage.completion_tokens,
            "modelyard.status": status,
            "modelyard.attempts": call.attempts,
            "modelyard.fallbacks": call.fallbacks,
            "modelyard.usage.estimated": usage.estimated,
        }
        candidate = call.candidate
        if candidate is not None:
            attributes["gen_ai.provider.name"] = provider_name(candidate.provider.kind)
            attributes["modelyard.provider.id"] = str(candidate.provider.id)
            attributes["modelyard.provider.name"] = candidate.provider.name
            attributes["modelyard.model"] = candidate.model.model_id
        if cost is not None:
            attributes["modelyard.cost"] = float(cost)
        if credits is not None:
            attributes["modelyard.credits"] = float(credits)
        if call.capped is not None:
            attributes["modelyard.capped_max_tokens"] = call.capped
        if call.ttft_ms is not None:
            attributes["modelyard.time_to_first_token_ms"] = call.ttft_ms
        if self.reasons:
            attributes["gen_ai.response.finish_reasons"] = self.reasons
        self.span.set_attributes(attributes)
        if status == "error":
            self.tracing.failed(self.span, None, error_code)
        kept, self.kept = self.kept, []
        for span in kept:
            span.set_attribute("modelyard.status", status)
            span.end()
