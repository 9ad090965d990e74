"""Benchmark: the gateway's /v1/chat/completions under load, as users run it.

Starts, in a temporary directory:

* a fixed-answer OpenAI-compatible mock upstream (bench/_mock_upstream.py, JSON and SSE);
* a SQLite registry with an ``openai`` provider pointed at the mock, a priced model, a user
  and an API key, both with rpm/tpm limits set high enough never to reject (bench/_stack.py);
* ``modelyard serve`` (one uvicorn worker; the real aiohttp upstream client; auth, limits and
  batched usage recording all on) pinned to --gateway-core;

and runs the load generator (bench/_loadgen.py, closed-loop keep-alive connections) in this
process on --client-core, which the mock shares. For non-streamed and streamed calls at each
--connections count it measures the mock directly, then through the gateway, and prints
requests/s, p50/p99 latency, latency (and time to first token) added over the direct call,
the gateway's own x-modelyard-overhead-ms, gateway CPU ms per request (/proc/<pid>/stat),
gateway RSS (/proc/<pid>/status) and how busy both cores were, then each target of issue 4
with the measured value and a verdict. Finally it stops the gateway gracefully and counts
the usage rows it recorded.

``--credential oauth`` calls the gateway with an OAuth access token (``myat_``) of the same
user instead of the API key (rows labelled ``oauth``); ``--credential both`` measures the
two on the same server, one after the other at each point, and prints the token's CPU per
request against the key's (issue 14: within 10 %). In ``both`` the key is made without
rpm/tpm limits of its own (a token has none), so the two differ only in how they are
authenticated.

``--requests N`` instead runs one long mixed (JSON and streamed) load of N requests and
prints the gateway's RSS at checkpoints (the target: flat within 5 % from 100k to 1M).
``--target static|proxy`` puts a floor on the gateway core instead of modelyard: a bare
ASGI app, or a bare aiohttp pass-through proxy (bench/_baseline_app.py).

Run: ``.venv/bin/python bench/gateway_throughput.py`` (about 2 minutes), ``--quick`` for a
smoke run, ``--requests 1000000`` for the RSS run; ``--help`` for the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import _report
import _stack
import orjson
import uvloop
from _loadgen import Load, request
from _report import Row, pct

HOST = "127.0.0.1"
PATH = "/v1/chat/completions"


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.5, help="warm-up seconds per run")
    parser.add_argument("--connections", default="1,8,64", help="comma-separated counts")
    parser.add_argument("--quick", action="store_true", help="1 s runs after 0.3 s warm-up")
    parser.add_argument("--requests", type=int, help="RSS mode: one run of this many requests")
    parser.add_argument("--checkpoint", type=int, help="RSS mode: print RSS every N requests")
    parser.add_argument("--log-level", default="info", help="MODELYARD_LOG_LEVEL (as shipped)")
    parser.add_argument(
        "--target",
        choices=["gateway", "static", "proxy"],
        default="gateway",
        help="the server under test: modelyard, or a floor from bench/_baseline_app.py",
    )
    parser.add_argument(
        "--credential",
        choices=["key", "oauth", "both"],
        default="key",
        help="call the gateway with the API key, an OAuth access token, or both in turn",
    )
    parser.add_argument(
        "--traces",
        choices=("off", "on", "down"),
        default="off",
        help="issue 17: export spans to a discarding OTLP receiver (on) or to a closed port",
    )
    parser.add_argument("--gateway-core", type=int, default=0, help="core of the server")
    parser.add_argument("--client-core", type=int, default=1, help="core of load and mock")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = 1.0, 0.3
    args.connections = [int(c) for c in args.connections.split(",")]
    return args


def _bodies() -> tuple[bytes, bytes]:
    body = {
        "model": _stack.MODEL,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 16,
    }
    return orjson.dumps(body), orjson.dumps({**body, "stream": True})


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


class Bench:
    def __init__(self, args: argparse.Namespace, ports: tuple[int, int], pids: tuple[int, int]):
        self.args, self.key, self.token = args, "", ""
        self.port, self.mock_port = ports
        self.pid, self.mock_pid = pids
        self.server_calls = 0

    @property
    def servers(self) -> list[str]:
        """What each point measures besides the mock: the target, and for the gateway with
        which credential ("gateway": the API key; "oauth": the access token)."""
        if self.args.target != "gateway":
            return [self.args.target]
        return {"key": ["gateway"], "oauth": ["oauth"], "both": ["gateway", "oauth"]}[
            self.args.credential
        ]

    def _requests(self, via: str, streams: list[bool]) -> list[bytes]:
        port, key = (self.mock_port, "") if via == "mock" else (self.port, self.key)
        if via == "oauth":
            key = self.token
        plain, streamed = _bodies()
        return [request(HOST, port, PATH, streamed if s else plain, key) for s in streams]

    def _sample(self) -> list[float]:
        """Wall clock, then CPU seconds: server, load generator + mock, the server's core
        (busy, stolen), the client core (busy, stolen)."""
        return [
            time.perf_counter(),
            _stack.cpu_seconds(self.pid),
            _stack.cpu_seconds(self.mock_pid) + _own_cpu(),
            *_stack.core_seconds(self.args.gateway_core),
            *_stack.core_seconds(self.args.client_core),
        ]

    async def measure(self, via: str, stream: bool, connections: int) -> Row:
        load = Load(
            HOST,
            self.mock_port if via == "mock" else self.port,
            self._requests(via, [stream]),
            connections,
        )
        await load.start()
        await asyncio.sleep(self.args.warmup)
        before = self._sample()
        load.recording = True
        await asyncio.sleep(self.args.seconds)
        load.recording = False
        wall, cpu, client, core0, steal0, core1, steal1 = (
            b - a for a, b in zip(before, self._sample(), strict=True)
        )
        await load.stop()
        s, n = load.stats, len(load.stats.latencies)
        if via == "mock":
            cpu = float("nan")
        else:
            self.server_calls += s.done
        return Row(
            via=via,
            stream=stream,
            connections=connections,
            n=n,
            rps=n / wall,
            p50=pct(s.latencies, 0.5),
            p99=pct(s.latencies, 0.99),
            ttft50=pct(s.ttfts, 0.5),
            ttft99=pct(s.ttfts, 0.99),
            overhead50=pct(s.overheads, 0.5, 1.0),
            errors=s.errors,
            cpu_ms=cpu * 1000 / max(n, 1),
            cpu_pct=cpu * 100 / wall,
            core0=core0 * 100 / wall,
            client_pct=client * 100 / wall,
            core1=core1 * 100 / wall,
            steal=max(steal0, steal1) * 100 / wall,
            rss=_stack.rss_mb(self.pid),
        )

    async def suite(self) -> list[Row]:
        """Each mode and connection count: the mock directly, then the server under test."""
        rows: list[Row] = []
        for stream in (False, True):
            for connections in self.args.connections:
                for via in ("mock", *self.servers):
                    row = await self.measure(via, stream, connections)
                    _report.print_row(row, rows)
                    rows.append(row)
        return rows

    async def rss_run(self, total: int, every: int) -> list[tuple[int, float]]:
        """``total`` requests, JSON and streamed alternating on each connection."""
        connections = max(self.args.connections)
        requests = self._requests(self.servers[-1], [False, True])
        load = Load(HOST, self.port, requests, connections, limit=total)
        await load.start()
        points: list[tuple[int, float]] = []
        started, mark = time.perf_counter(), every
        heads = ("requests", "RSS MB", "anon MB", "file MB", "elapsed s", "req/s", "errors")
        print(" ".join(f"{h:>9}" for h in heads))
        while load.in_flight():
            await asyncio.sleep(0.05)
            done = load.stats.done
            if done >= mark or not load.in_flight():
                memory = _stack.memory_mb(self.pid)
                points.append((done, memory["VmRSS"]))
                elapsed = time.perf_counter() - started
                rate, errors = done / elapsed, load.stats.errors
                print(
                    f"{done:>9} {memory['VmRSS']:>9.1f} {memory['RssAnon']:>9.1f} "
                    f"{memory['RssFile']:>9.1f} {elapsed:>9.1f} {rate:>9.0f} {errors:>9}",
                    flush=True,
                )
                mark = (done // every + 1) * every
        await load.stop()
        self.server_calls += load.stats.done
        return points


def _run(args: argparse.Namespace, bench: Bench) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        if args.requests:
            every = args.checkpoint or max(args.requests // 20, 1000)
            _report.rss_verdict(runner.run(bench.rss_run(args.requests, every)))
            return
        rows = runner.run(bench.suite())
    if warning := _report.interference(rows):
        print("\n" + warning)
    if args.target == "gateway" and args.credential != "oauth":
        _report.print_targets(_report.targets(rows))
    if args.credential == "both":
        _report.print_credentials(rows)
    if args.markdown:
        print("\n" + _report.markdown(rows))


def main() -> None:
    args = _parse_args()
    print(_report.machine())
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    mock, mock_port = _stack.start_mock(args.client_core, work / "mock.log")
    server: subprocess.Popen[bytes] | None = None
    sink: tuple[subprocess.Popen[bytes] | None, int] = (None, 0)
    try:
        settings = _stack.settings_for(work)
        port, upstream = _stack.free_port(), f"http://{HOST}:{mock_port}"
        key, token, env = "", "", None
        if args.target == "gateway":
            key, token = asyncio.run(
                _stack.make_registry(
                    settings, f"{upstream}/v1", key_limits=args.credential != "both"
                )
            )
            command, env = _stack.gateway_command(settings, port, args.log_level)
            if args.traces != "off":
                sink = _stack.start_sink(args.client_core, work / "sink.log", args.traces)
                env["MODELYARD_OTEL_ENDPOINT"] = f"http://{HOST}:{sink[1]}/v1/traces"
        else:
            command = _stack.baseline_command(args.target, port, upstream, args.log_level)
        server = _stack.start_server(command, env, args.gateway_core, port, work / "server.log")
        if args.target == "gateway":
            for body, stream in zip(_bodies(), (False, True), strict=True):
                _stack.check_gateway(port, key, body, stream)
                _stack.check_gateway(port, token, body, stream)
        print(
            f"{args.target} pid {server.pid} on core {args.gateway_core}, log level "
            f"{args.log_level}; mock pid {mock.pid} and load generator on core "
            f"{args.client_core}; traces {args.traces}; workdir {work}\n"
        )
        bench = Bench(args, (port, mock_port), (server.pid, mock.pid))
        bench.key, bench.token = key, token
        _run(args, bench)
        _stack.stop(server)
        if args.target == "gateway":
            rows, calls = _stack.usage_rows(settings), bench.server_calls + 4
            print(f"\nusage rows recorded: {rows} for {calls} completed gateway calls")
    finally:
        if server is not None:
            _stack.stop(server)
        _stack.stop(mock)
        if sink[0] is not None:
            _stack.stop(sink[0])
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
