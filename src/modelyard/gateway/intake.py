"""A caller's request made into a :class:`~modelyard.gateway.call.Call`, ready to admit:
its parameters checked (:mod:`modelyard.gateway.params`), its model resolved, narrowed to
what the caller's plan allows, its token budget for the rate windows and its worst case for
the credit hold. A refusal after resolution (the plan, an unpriced model) is recorded as a
usage row naming the model asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from modelyard.errors import ModelyardError
from modelyard.gateway import credit, entitlement, params, request
from modelyard.gateway.call import Call
from modelyard.gateway.resolve import resolve
from modelyard.gateway.snapshot import KeyEntry, Snapshot

if TYPE_CHECKING:
    from modelyard.gateway.service import Gateway

T = TypeVar("T")


def chat_call(
    gateway: Gateway,
    snap: Snapshot,
    key: KeyEntry,
    request_id: str,
    body: dict[str, Any],
    *,
    client_request_id: str | None = None,
    idempotency_key: str | None = None,
    operation: str | None = None,
    checked: bool = False,
    meta: dict[str, Any] | None = None,
) -> Call:
    """A chat call, ready to admit: 400 for a malformed request, 403 for what the caller's
    plan does not allow (recorded), 404/400 when no model can serve it. ``request_id`` is
    the server's own (the usage row's key); the caller's ids only travel with the call.
    ``operation``: the usage rows' (``chat`` or ``function_call`` unless said otherwise);
    ``checked``: the body is an ingress's translation of a request it checked in its own
    terms (Anthropic's Messages API), not checked again as OpenAI's; ``meta``: what the
    ingress notes on the usage row (a refusal's too)."""
    if not checked:
        params.check_chat(body)
    needs = request.chat_needs(body)
    resolution = resolve(snap, key.user_id, request.requested_model(body), "chat", needs)
    if operation is None:
        operation = "function_call" if body.get("tools") or body.get("functions") else "chat"
    call = Call(gateway, snap, key, request_id, operation, body, resolution, None, 0, 0)
    call.client_request_id, call.idempotency_key = client_request_id, idempotency_key
    call.meta = meta
    billed = _recorded(call, lambda: _entitled(call, needs))
    model_max = call.resolution.candidates[0].model.max_output_tokens
    params.check_output(body, model_max)
    call.prompt = prompt = request.prompt_estimate(body, "chat")
    estimate = snap.credit_rules.estimate_completion  # rate windows: a realistic guess
    asked = request.requested_completion(body)
    call.budget = call.worst = prompt + (asked or min(estimate, model_max or estimate))
    if billed:
        _recorded(call, lambda: credit.prepare(call, completion=True))
    return call


def embedding_call(
    gateway: Gateway,
    snap: Snapshot,
    key: KeyEntry,
    request_id: str,
    body: dict[str, Any],
    *,
    client_request_id: str | None = None,
    idempotency_key: str | None = None,
) -> Call:
    params.check_embedding(body)
    needs = request.embedding_needs(body)
    resolution = resolve(snap, key.user_id, request.requested_model(body), "embedding", needs)
    call = Call(gateway, snap, key, request_id, "embedding", body, resolution, None, 0, 0)
    call.client_request_id, call.idempotency_key = client_request_id, idempotency_key
    billed = _recorded(call, lambda: _entitled(call, needs))
    call.prompt = call.budget = call.worst = request.prompt_estimate(body, "embedding")
    if billed:
        _recorded(call, lambda: credit.prepare(call, completion=False))
    return call


def _entitled(call: Call, needs: frozenset[str]) -> bool:
    """The caller's plan on the call, its candidates narrowed to what the plan allows;
    whether the call is paid in credits."""
    snap, user = call.snap, call.key.user_id
    call.plan = plan = entitlement.billing_of(snap, user)
    billed = entitlement.pays(snap, user, plan)
    if plan is not None:
        call.resolution = entitlement.within_plan(plan, call.resolution, needs)
    return billed


def _recorded(call: Call, step: Callable[[], T]) -> T:
    """``step``'s answer; a refusal (the plan, an unpriced model) is recorded first, naming
    the model asked for."""
    try:
        return step()
    except ModelyardError as exc:
        call.settle(None, "error", exc.code)
        raise
