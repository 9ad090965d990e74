"""``POST /v1/completions``: the legacy prompt-in, text-out API, as JSON or an SSE stream of
``text_completion`` chunks ending with ``data: [DONE]`` (:mod:`modelyard.gateway.completion`
makes the call; the relay is chat's, :mod:`modelyard.api.openai.stream`)."""

from __future__ import annotations

from modelyard.api.openai import stream
from modelyard.api.openai.chat import encoded
from modelyard.api.openai.inbound import Inbound
from modelyard.api.openai.wire import response_headers
from modelyard.gateway import request
from modelyard.gateway.completion import completion_call


async def completions(inbound: Inbound) -> None:
    body = await inbound.json_body()
    completion = completion_call(
        inbound.gateway,
        inbound.snap,
        inbound.key,
        inbound.request_id,
        body,
        client_request_id=inbound.client_id,
        idempotency_key=inbound.idempotency_key,
    )
    call = completion.call
    if request.wants_stream(body):
        await stream.run(
            call, body, inbound.receive, inbound.send, inbound.started, completion.open
        )
        return
    result = await completion.run()
    await inbound.answer(encoded(result), response_headers(call, inbound.started))
