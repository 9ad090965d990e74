"""The Prometheus text the gateway exposes at /metrics."""

from __future__ import annotations

from decimal import Decimal

from modelyard.gateway.metrics import Metrics


def _call(metrics: Metrics, **overrides: object) -> None:
    values: dict[str, object] = {
        "provider": "openai",
        "model": "gpt-4o",
        "operation": "chat",
        "status": "ok",
        "seconds": 0.03,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost": Decimal("0.000075"),
        "currency": "USD",
        "attempts": 1,
        "fallbacks": 0,
    } | overrides
    metrics.call(**values)  # type: ignore[arg-type]


def test_calls_add_up_by_provider_model_and_status() -> None:
    metrics = Metrics()
    _call(metrics)
    _call(metrics, seconds=0.2, attempts=3, fallbacks=1)
    _call(metrics, status="error", prompt_tokens=0, completion_tokens=0, cost=None)
    metrics.rejected("rpm")
    text = metrics.render()
    lines = set(text.splitlines())
    requests = 'modelyard_requests_total{model="gpt-4o",operation="chat",provider="openai",'
    assert requests + 'status="ok"} 2' in lines
    assert requests + 'status="error"} 1' in lines
    assert 'modelyard_tokens_total{model="gpt-4o",provider="openai",type="prompt"} 20' in lines
    assert 'modelyard_cost_total{currency="USD",model="gpt-4o",provider="openai"} 0.000150' in lines
    assert 'modelyard_retries_total{model="gpt-4o",provider="openai"} 2' in lines
    assert 'modelyard_fallbacks_total{model="gpt-4o",provider="openai"} 1' in lines
    assert 'modelyard_limit_rejections_total{reason="rpm"} 1' in lines
    bucket = 'modelyard_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le='
    assert f'{bucket}"0.025"}} 0' in lines
    assert f'{bucket}"0.05"}} 2' in lines
    assert f'{bucket}"0.25"}} 3' in lines
    assert f'{bucket}"+Inf"}} 3' in lines
    assert text.endswith("\n")


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    _call(metrics, provider='we"ird\\name')
    assert 'provider="we\\"ird\\\\name"' in metrics.render()


def test_usage_rows_waiting_for_the_database_are_a_gauge() -> None:
    metrics = Metrics()
    assert "modelyard_usage_pending_rows" not in metrics.render()
    lines = metrics.render(usage_pending=1234).splitlines()
    assert "# TYPE modelyard_usage_pending_rows gauge" in lines
    assert "modelyard_usage_pending_rows 1234" in lines
