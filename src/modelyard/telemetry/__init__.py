"""Traces (OpenTelemetry, exported over OTLP/HTTP) and the server's log lines (text or JSON).

Off and free unless configured: :func:`modelyard.telemetry.setup.tracing_from` returns None
without importing the SDK when ``MODELYARD_OTEL_ENDPOINT`` is unset, and the hot path's only
cost is then a ``is None`` check. Nothing here knows the gateway: the gateway's hooks
(:mod:`modelyard.gateway.tracing`) and the ``/v1`` handler call the :class:`Tracing` they
are handed.
"""
