"""Benchmark: what one traced call's spans cost in the OpenTelemetry SDK, apart from the rest.

A traced ``/v1`` call makes three spans (the request, its attempt, the upstream request) with
about thirty attributes between them, attaches two contexts, and later has them encoded as
OTLP protobuf by the batch processor's thread. This times exactly that, in process, with
the processor and limits the server uses (``modelyard.telemetry.sdk``), into an exporter
that discards (``--encode``: after encoding them as the OTLP exporter does), and prints CPU
microseconds per call (``time.process_time``: both threads, robust to a busy machine's
waiting, not to its cache and frequency). ``bench/gateway_throughput.py --traces on`` is the
end-to-end figure; this says how much of it is the SDK's.

Run: ``.venv/bin/python bench/traces_spans.py`` (a few seconds).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from modelyard.settings import Settings
from modelyard.telemetry import sdk

ROOT = {
    "http.request.method": "POST",
    "url.path": "/v1/chat/completions",
    "url.scheme": "http",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "modelyard.request_id": "req_01a247244b3b5a23a2cbaf4ab544641a",
    "gen_ai.request.max_tokens": 16,
}
SETTLED = {
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 5,
    "modelyard.status": "ok",
    "modelyard.attempts": 1,
    "modelyard.fallbacks": 0,
    "modelyard.usage.estimated": False,
    "gen_ai.provider.name": "openai",
    "modelyard.provider.id": "0193f1c2-5b7e-7c3a-9d2e-4f5a6b7c8d9e",
    "modelyard.provider.name": "bench",
    "modelyard.model": "bench-model",
    "modelyard.cost": 0.000022,
    "gen_ai.response.id": "chatcmpl-bench",
    "gen_ai.response.model": "bench-model",
    "gen_ai.response.finish_reasons": ("stop",),
    "http.response.status_code": 200,
}
ATTEMPT = {k: SETTLED[k] for k in list(SETTLED)[6:10]} | {"modelyard.attempt": 1}
HTTP = {
    "http.request.method": "POST",
    "server.address": "127.0.0.1",
    "server.port": 4200,
    "url.full": "http://127.0.0.1:4200/v1/chat/completions",
}


class Discard(SpanExporter):
    def __init__(self, encode: bool) -> None:
        self.encode, self.spans = encode, 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.encode:
            encode_spans(spans).SerializePartialToString()
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def one_call(tracer: trace.Tracer) -> None:
    root = tracer.start_span(
        "POST /v1/chat/completions", kind=trace.SpanKind.SERVER, attributes=ROOT
    )
    token = context.attach(trace.set_span_in_context(root))
    root.update_name("chat gpt-4o-mini")
    attempt = tracer.start_span("chat bench-model", kind=trace.SpanKind.CLIENT, attributes=ATTEMPT)
    inner = context.attach(trace.set_span_in_context(attempt))
    http = tracer.start_span("POST", kind=trace.SpanKind.CLIENT, attributes=HTTP)
    http.set_attribute("http.response.status_code", 200)
    http.end()
    context.detach(inner)
    root.set_attributes(SETTLED)
    attempt.end()
    context.detach(token)
    root.end()


def run(calls: int, encode: bool) -> tuple[float, int]:
    provider = sdk.provider_for(Settings(otel_endpoint="http://127.0.0.1:9"))
    exporter = Discard(encode)
    # the server's batch settings, but a queue that holds the whole run: none dropped
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=calls * 3, max_export_batch_size=sdk.BATCH,
                           schedule_delay_millis=sdk.DELAY_MS)
    )  # fmt: skip
    tracer = provider.get_tracer("bench")
    started = time.process_time()
    for _ in range(calls):
        one_call(tracer)
    provider.force_flush()
    used = time.process_time() - started
    provider.shutdown()
    return used * 1e6 / calls, exporter.spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    run(500, True)  # warm-up
    for encode in (False, True):
        micros, spans = run(args.calls, encode)
        label = "spans + OTLP encoding" if encode else "spans only"
        print(f"{label:<22} {micros:7.1f} us CPU per call ({spans} spans exported)")


if __name__ == "__main__":
    main()
