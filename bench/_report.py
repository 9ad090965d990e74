"""What bench/gateway_throughput.py prints: one row per run, the targets of issue 4 with the
measured value and a verdict, an OAuth access token's CPU against an API key's, the
RSS-flatness verdict, and the machine."""

from __future__ import annotations

import datetime
import hashlib
import math
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Target = tuple[str, str, str, bool]  # name, limit, measured, met


@dataclass
class Row:
    via: str  # "mock" (called directly), or the server under test
    stream: bool
    connections: int
    n: int  # responses completed in the measured window
    rps: float
    p50: float  # ms, whole response
    p99: float
    ttft50: float  # ms, first SSE data chunk (streamed)
    ttft99: float
    overhead50: float  # median x-modelyard-overhead-ms, the gateway's own account
    errors: int  # warm-up included
    cpu_ms: float  # server CPU per request
    cpu_pct: float  # server CPU / wall, % of one core
    core0: float  # the server's core busy, any process, %
    client_pct: float  # load generator + mock CPU / wall, % of one core
    core1: float  # the client core busy, any process, %
    steal: float  # the larger share of either core the hypervisor took, %
    rss: float  # server RSS after the run, MB


def pct(values: list[float], q: float, scale: float = 1000.0) -> float:
    """Nearest-rank percentile, scaled (seconds to ms by default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * scale


Value = Callable[[Row, Row | None], float]
COLUMNS: list[tuple[str, int, int, Value]] = [  # header, width, digits, value(row, direct)
    ("req/s", 8, 0, lambda r, d: r.rps),
    ("p50 ms", 8, 2, lambda r, d: r.p50),
    ("p99 ms", 8, 2, lambda r, d: r.p99),
    ("+p50", 7, 2, lambda r, d: r.p50 - d.p50 if d else math.nan),
    ("+p99", 7, 2, lambda r, d: r.p99 - d.p99 if d else math.nan),
    ("ttft50", 8, 2, lambda r, d: r.ttft50),
    ("+ttft50", 8, 2, lambda r, d: r.ttft50 - d.ttft50 if d else math.nan),
    ("+ttft99", 8, 2, lambda r, d: r.ttft99 - d.ttft99 if d else math.nan),
    ("self ms", 8, 3, lambda r, d: r.overhead50),
    ("cpu ms", 8, 3, lambda r, d: r.cpu_ms),
    ("cpu%", 5, 0, lambda r, d: r.cpu_pct),
    ("c0%", 5, 0, lambda r, d: r.core0),
    ("cl%", 5, 0, lambda r, d: r.client_pct),
    ("c1%", 5, 0, lambda r, d: r.core1),
    ("st%", 5, 0, lambda r, d: r.steal),
    ("RSS MB", 7, 1, lambda r, d: r.rss),
]


def direct(row: Row, rows: list[Row]) -> Row | None:
    """The run that called the mock directly with the same mode and connections."""
    if row.via == "mock":
        return None
    for other in rows:
        if (other.via, other.stream, other.connections) == ("mock", row.stream, row.connections):
            return other
    return None


def _cell(value: float, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width}.{digits}f}"


def print_row(row: Row, rows: list[Row]) -> None:
    """Print ``row`` (``rows``: the runs before it); the header before the first."""
    if not rows:
        print(
            f"{'via':<8}{'mode':<7}{'conns':>5}"
            + "".join(f"{h:>{w}}" for h, w, _, _ in COLUMNS)
            + f"{'err':>5}"
        )
    base = direct(row, rows)
    cells = "".join(_cell(value(row, base), w, d) for _, w, d, value in COLUMNS)
    mode = "stream" if row.stream else "json"
    print(f"{row.via:<8}{mode:<7}{row.connections:>5}{cells}{row.errors:>5}", flush=True)


def markdown(rows: list[Row]) -> str:
    """The same table in Markdown, for bench/README.md."""
    head = ["via", "mode", "conns", *(h for h, _, _, _ in COLUMNS), "errors"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(head) - 3)]
    for row in rows:
        base = direct(row, rows)
        cells = [_cell(value(row, base), 0, d).strip() for _, _, d, value in COLUMNS]
        mode = "stream" if row.stream else "json"
        lines.append(
            f"| {row.via} | {mode} | {row.connections} | "
            + " | ".join(cells)
            + f" | {row.errors} |"
        )
    return "\n".join(lines)


def interference(rows: list[Row]) -> str | None:
    """A warning when other processes took a noticeable share of either core."""
    server = max((r.core0 - (0 if r.via == "mock" else r.cpu_pct) for r in rows), default=0)
    client = max((r.core1 - r.client_pct for r in rows), default=0)
    server, client = max(server, 0), max(client, 0)
    steal = max((r.steal for r in rows), default=0)
    if max(server, client, steal) < 10:
        return None
    return (
        f"WARNING: other processes used up to {server:.0f} % of the server's core and "
        f"{client:.0f} % of the client core, and the hypervisor stole up to {steal:.0f} %, "
        "during these runs; latency and throughput figures are not representative (CPU ms "
        "per request suffers least). Re-run on a quiet machine."
    )


def _find(rows: list[Row], stream: bool, connections: int) -> tuple[Row, Row] | None:
    for row in rows:
        if (row.via, row.stream, row.connections) == ("gateway", stream, connections):
            base = direct(row, rows)
            return (row, base) if base else None
    return None


def targets(rows: list[Row]) -> list[Target]:
    """Each target of issue 4 that these runs measured."""
    out: list[Target] = []
    if pair := _find(rows, False, 1):
        p50, p99 = pair[0].p50 - pair[1].p50, pair[0].p99 - pair[1].p99
        out.append(("added latency, 1 conn, p50", "<= 0.5 ms", f"{p50:.3f} ms", p50 <= 0.5))
        out.append(("added latency, 1 conn, p99", "<= 1.5 ms", f"{p99:.3f} ms", p99 <= 1.5))
    if pair := _find(rows, False, 64):
        gw = pair[0]
        out.append(
            (
                "gateway CPU per JSON request, 64 conns",
                "<= 0.25 ms",
                f"{gw.cpu_ms:.3f} ms",
                gw.cpu_ms <= 0.25,
            )
        )
        out.append(("JSON requests/s, 64 conns", ">= 4000", f"{gw.rps:.0f}", gw.rps >= 4000))
    errors = [r.errors for r in rows if r.via == "gateway" and r.connections == 64]
    if errors:
        out.append(("errors at 64 conns (JSON and stream)", "0", str(sum(errors)), not sum(errors)))
    if pair := _find(rows, True, 1):
        added = pair[0].ttft50 - pair[1].ttft50
        out.append(
            ("added time to first token, 1 conn, p50", "<= 1 ms", f"{added:.3f} ms", added <= 1)
        )
    return out


def print_targets(results: list[Target]) -> None:
    print("\nTargets (issue 4, one worker):")
    for name, limit, measured, met in results:
        print(
            f"  {name:<42} target {limit:<11} measured {measured:<12} {'MET' if met else 'MISSED'}"
        )


def print_credentials(rows: list[Row]) -> None:
    """The OAuth access token's gateway CPU per request against the API key's, at each
    point measured with both (issue 14: within 10 %)."""
    print("\nOAuth access token vs API key (issue 14: gateway CPU per request within 10 %):")
    keyed = {(r.stream, r.connections): r for r in rows if r.via == "gateway"}
    for row in rows:
        key = keyed.get((row.stream, row.connections))
        if row.via != "oauth" or key is None or not key.cpu_ms:
            continue
        change = (row.cpu_ms - key.cpu_ms) * 100 / key.cpu_ms
        mode = "stream" if row.stream else "json"
        print(
            f"  {mode:<6} {row.connections:>3} conns: key {key.cpu_ms:.3f} ms, token "
            f"{row.cpu_ms:.3f} ms ({change:+.1f} %), p50 {key.p50:.3f} -> {row.p50:.3f} ms "
            f"{'MET' if change <= 10 else 'MISSED'}"
        )


def rss_verdict(points: list[tuple[int, float]]) -> None:
    """RSS at the first checkpoint at or past 100k requests against the last one."""
    base = next(((n, r) for n, r in points if n >= 100_000), points[0])
    last = points[-1]
    change = (last[1] - base[1]) * 100 / base[1]
    if base[0] < 100_000 or last[0] < 1_000_000:
        verdict = "not measured (needs --requests 1000000 or more)"
    else:
        verdict = "MET" if abs(change) <= 5 else "MISSED"
    print(
        f"\nRSS {base[1]:.1f} MB at {base[0]} requests -> {last[1]:.1f} MB at {last[0]}: "
        f"{change:+.1f} % (target: within +-5 % from 100k to 1M requests): {verdict}"
    )


def source_digest() -> str:
    """A digest of the modelyard sources measured (src/modelyard/**/*.py), since the tree
    may change between runs: equal digests, same code."""
    root = Path(__file__).resolve().parent.parent / "src" / "modelyard"
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    now = datetime.datetime.now(datetime.UTC)
    return (
        f"{now:%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs ({names[0] if names else '?'}); "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}; "
        f"load average {load}; modelyard source digest {source_digest()}"
    )
