"""Whether traces are on: the tracer from the settings, or None without importing anything.

Only ``MODELYARD_OTEL_ENDPOINT`` decides: unset, nothing of OpenTelemetry is imported and the
server's hooks see None; set, :mod:`modelyard.telemetry.sdk` builds the exporting tracer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard.settings import Settings

if TYPE_CHECKING:
    from modelyard.telemetry.tracing import Tracing


def tracing_from(settings: Settings) -> Tracing | None:
    """The server's tracer, exporting to ``settings.otel_endpoint``; None when unset."""
    if settings.otel_endpoint is None:
        return None
    from modelyard.telemetry import sdk  # noqa: PLC0415 - the SDK only when configured

    return sdk.exporting(settings, settings.otel_endpoint)


def headers(settings: Settings) -> dict[str, str]:
    """``MODELYARD_OTEL_HEADERS`` (``name=value,...``, checked by the settings) as a dict."""
    secret = settings.otel_headers
    pairs = secret.get_secret_value().split(",") if secret is not None else []
    parsed = (pair.partition("=") for pair in pairs)
    return {name.strip(): value.strip() for name, _, value in parsed}
