"""The exporting tracer: OTLP over HTTP (protobuf) behind a batch processor.

Imported only when traces are configured (:mod:`modelyard.telemetry.setup`). Every value the
SDK would otherwise read from ``OTEL_*`` variables is passed explicitly (endpoint, headers,
timeout, compression, service name, sampler, batch sizes, span limits), so the server's
settings alone decide what is exported and where. Left to the SDK (documented in
docs/deployment.md): ``OTEL_SDK_DISABLED``, the exporter's TLS certificate variables, and
``OTEL_EXPORTER_OTLP_HEADERS``/``..._TRACES_HEADERS``, which the exporter merges under ours.

Spans are exported from the batch processor's own thread: a slow or unreachable collector
costs the calls nothing; past :data:`QUEUE` waiting spans new ones are dropped.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from modelyard.settings import Settings
from modelyard.telemetry.setup import headers
from modelyard.telemetry.tracing import Tracing

EXPORT_TIMEOUT_S = 5.0  # one export's wait for the collector (it runs off the event loop)
QUEUE = 2048  # spans waiting for export, at most
BATCH = 512  # spans per export request
DELAY_MS = 1000  # the longest a span waits for its batch
ATTRIBUTE_LENGTH = 1024  # a longer attribute value is cut


def exporting(settings: Settings, endpoint: str) -> Tracing:
    """The server's tracer, its spans batched to ``endpoint``."""
    exporter = OTLPSpanExporter(
        endpoint=endpoint,
        headers=headers(settings),
        timeout=EXPORT_TIMEOUT_S,
        compression=Compression.NoCompression,
    )
    processor = BatchSpanProcessor(
        exporter,
        max_queue_size=QUEUE,
        schedule_delay_millis=DELAY_MS,
        max_export_batch_size=BATCH,
        export_timeout_millis=EXPORT_TIMEOUT_S * 1000,
    )
    provider = provider_for(settings)
    provider.add_span_processor(processor)
    return Tracing(provider, close=provider.shutdown)


def provider_for(settings: Settings) -> TracerProvider:
    """A tracer provider of this server's own (never the global one): its resource, sampler
    and limits from ``settings`` and constants, none from the environment."""
    limits = SpanLimits(
        max_attributes=64,
        max_events=16,
        max_links=8,
        max_span_attributes=64,
        max_event_attributes=16,
        max_link_attributes=16,
        max_attribute_length=ATTRIBUTE_LENGTH,
        max_span_attribute_length=ATTRIBUTE_LENGTH,
    )
    try:
        release = version("modelyard")
    except PackageNotFoundError:  # run from a source tree
        release = "unknown"
    resource = Resource({"service.name": settings.otel_service_name, "service.version": release})
    return TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(settings.otel_sample_ratio)),
        resource=resource,
        shutdown_on_exit=False,  # the app's lifespan closes it
        span_limits=limits,
    )
