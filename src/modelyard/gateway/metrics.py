"""Prometheus metrics of the gateway, kept in process memory and rendered in the text format
at ``/metrics``: requests, latency histograms, tokens, cost, retries, fallbacks and limit
rejections, by provider and model. Recording is a few dict updates per call."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
Labels = tuple[tuple[str, str], ...]


def _labels(**values: str) -> Labels:
    return tuple(sorted(values.items()))


def _render_labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Histogram:
    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        if index < len(self.buckets):
            self.buckets[index] += 1
        self.count += 1
        self.total += seconds


class _LabelSet:
    """The label tuples of one provider, model, operation and status, made once."""

    __slots__ = ("completion", "prompt", "request", "where")

    def __init__(self, provider: str, model: str, operation: str, status: str) -> None:
        self.where = _labels(provider=provider, model=model)
        self.request = _labels(provider=provider, model=model, operation=operation, status=status)
        self.prompt = (*self.where, ("type", "prompt"))
        self.completion = (*self.where, ("type", "completion"))


def _key(labels: list[list[str]]) -> Labels:
    return tuple((str(k), str(v)) for k, v in labels)


_COUNTERS = ("requests", "tokens", "retries", "fallbacks", "rejections", "unpriced_calls")


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[Labels, int] = defaultdict(int)
        self.latency: dict[Labels, _Histogram] = defaultdict(_Histogram)
        self.tokens: dict[Labels, int] = defaultdict(int)
        self.cost: dict[Labels, Decimal] = defaultdict(Decimal)
        self.retries: dict[Labels, int] = defaultdict(int)
        self.fallbacks: dict[Labels, int] = defaultdict(int)
        self.rejections: dict[Labels, int] = defaultdict(int)
        self.unpriced_calls: dict[Labels, int] = defaultdict(int)
        self._label_sets: dict[tuple[str, str, str, str], _LabelSet] = {}

    def call(
        self,
        *,
        provider: str,
        model: str,
        operation: str,
        status: str,
        seconds: float,
        prompt_tokens: int,
        completion_tokens: int,
        cost: Decimal | None,
        currency: str | None,
        attempts: int,
        fallbacks: int,
    ) -> None:
        labels = self._label_sets.get((provider, model, operation, status))
        if labels is None:
            labels = self._label_sets[(provider, model, operation, status)] = _LabelSet(
                provider, model, operation, status
            )
        where = labels.where
        self.requests[labels.request] += 1
        self.latency[where].observe(seconds)
        if prompt_tokens:
            self.tokens[labels.prompt] += prompt_tokens
        if completion_tokens:
            self.tokens[labels.completion] += completion_tokens
        if cost is not None and currency:
            self.cost[(("currency", currency), *where)] += cost
        if attempts > 1:
            self.retries[where] += attempts - 1
        if fallbacks:
            self.fallbacks[where] += fallbacks

    def rejected(self, reason: str) -> None:
        self.rejections[_labels(reason=reason)] += 1

    def unpriced(self, provider: str, model: str) -> None:
        """A call paid in credits was served by a model without a credit price."""
        self.unpriced_calls[_labels(provider=provider, model=model)] += 1

    def state(self) -> dict[str, list[list[object]]]:
        """Every counter and histogram as JSON-ready lists, for :meth:`absorb` in another
        process (the workers of one server add theirs up, ``metrics_shared.py``)."""
        out: dict[str, list[list[object]]] = {
            name: [[list(map(list, k)), v] for k, v in getattr(self, name).items()]
            for name in _COUNTERS
        }
        out["cost"] = [[list(map(list, k)), str(v)] for k, v in self.cost.items()]
        out["latency"] = [
            [list(map(list, k)), h.buckets, h.count, h.total] for k, h in self.latency.items()
        ]
        return out

    def absorb(self, state: Mapping[str, list[list[Any]]]) -> None:
        """Add another process's :meth:`state` to these counters."""
        for name in _COUNTERS:
            counters: dict[Labels, int] = getattr(self, name)
            for labels, value in state.get(name, ()):
                counters[_key(labels)] += int(value)
        for labels, value in state.get("cost", ()):
            self.cost[_key(labels)] += Decimal(value)
        for labels, buckets, count, total in state.get("latency", ()):
            hist = self.latency[_key(labels)]
            hist.buckets = [a + int(b) for a, b in zip(hist.buckets, buckets, strict=True)]
            hist.count += int(count)
            hist.total += float(total)

    def render(self, *, usage_pending: int | None = None) -> str:
        """The text format; ``usage_pending``: usage rows not yet in the database (a gauge
        that should hover near one flush interval's worth of calls; growth means the
        database is away or slower than the traffic)."""
        out: list[str] = []
        if usage_pending is not None:
            name = "modelyard_usage_pending_rows"
            out += [
                f"# HELP {name} Usage rows recorded but not yet in the database.",
                f"# TYPE {name} gauge",
                f"{name} {usage_pending}",
            ]
        self._counter(out, "modelyard_requests_total", "Gateway calls.", self.requests)
        self._counter(out, "modelyard_tokens_total", "Tokens used.", self.tokens)
        self._counter(
            out, "modelyard_cost_total", "Cost computed from modelyard's prices.", self.cost
        )
        self._counter(out, "modelyard_retries_total", "Upstream retries.", self.retries)
        self._counter(
            out, "modelyard_fallbacks_total", "Calls moved to another provider.", self.fallbacks
        )
        self._counter(
            out, "modelyard_limit_rejections_total", "Calls refused by a limit.", self.rejections
        )
        self._counter(
            out,
            "modelyard_unpriced_calls_total",
            "Calls paid in credits served free by a model without a credit price.",
            self.unpriced_calls,
        )
        name = "modelyard_request_duration_seconds"
        out += [f"# HELP {name} Gateway call latency.", f"# TYPE {name} histogram"]
        for labels, hist in sorted(self.latency.items()):
            running = 0
            for bound, count in zip(LATENCY_BUCKETS, hist.buckets, strict=True):
                running += count
                le = _render_labels(labels, 'le="' + str(bound) + '"')
                out.append(f"{name}_bucket{le} {running}")
            le = _render_labels(labels, 'le="+Inf"')
            out.append(f"{name}_bucket{le} {hist.count}")
            out.append(f"{name}_sum{_render_labels(labels)} {hist.total}")
            out.append(f"{name}_count{_render_labels(labels)} {hist.count}")
        return "\n".join(out) + "\n"

    @staticmethod
    def _counter(out: list[str], name: str, help_: str, values: Mapping[Labels, object]) -> None:
        out += [f"# HELP {name} {help_}", f"# TYPE {name} counter"]
        out += [f"{name}{_render_labels(k)} {v}" for k, v in sorted(values.items())]
