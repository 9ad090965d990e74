"""Benchmark: JSON chat calls per second through ``modelyard serve --workers N``, at 1 and at
2 workers on the same machine (issue 17's target: 2 workers >= 1.7x one on two cores).

Each round starts, in a temporary directory: nginx answering a fixed chat completion (it
costs microseconds a call, so the gateway is what is measured), a SQLite registry with an
``openai`` provider on it, a priced model and a user key with rpm/tpm limits set too high
to reject (bench/_stack.py), and ``modelyard serve --workers N`` with the machine's Redis
(MODELYARD_REDIS_URL, default redis://127.0.0.1:6379/0, under a prefix of the run's own,
deleted afterwards): limits are counted in Redis at 1 worker too, so the two figures differ
only in the number of workers. wrk (closed loop, keep-alive connections, one thread) then
posts bench/workers_chat.lua's request for --warmup and --seconds; the gateway's CPU time per
request (all its processes, /proc), its RSS per worker and the CPU time of the rest (wrk's
own, nginx's, and the Redis server's, which counts every client of a shared Redis: an upper
bound) are read around the measured part, and how many cores the machine's other processes
kept busy meanwhile ("others", from /proc/stat). Nothing is pinned: the workers, nginx, wrk and
Redis share the machine's cores as they would in production, so on two cores wrk, nginx and
Redis take some of what the second worker could use. Rounds alternate 1 and 2 workers
(--rounds) so that a change in the machine's load hits both; the median of each is
compared. On a busy machine the requests/s follow the other processes' load more than the
workers; the CPU a request costs does not, so the last line also gives the ratio an idle
machine would show: N cores running N workers and the rest, N x gateway / (gateway + rest),
against one worker with a core of its own.

Needs ``nginx`` and ``wrk`` on the PATH (``apt-get install -y nginx-light wrk``) and Redis.
Run: ``.venv/bin/python bench/workers.py`` (about 4 minutes on an idle machine); ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import _nginx
import _stack
import redis

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "workers_chat.lua"
BODY = {
    "model": _stack.MODEL,
    "messages": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "In two sentences, what does an LLM gateway do?"},
    ],
    "max_tokens": 64,
}


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds a run")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=64, help="wrk's connections")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (1 worker, 2 workers)")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, in order")
    parser.add_argument(
        "--redis-url", default=os.environ.get("MODELYARD_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    return parser.parse_args()


def workers_of(parent: int, marker: str = "spawn_main") -> list[int]:
    """The worker processes of ``modelyard serve`` (uvicorn's supervisor's children, not
    multiprocessing's resource tracker), or of nginx."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid) for pid in children if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _busy() -> float:
    """CPU seconds every process on the machine has used (all cores, /proc/stat)."""
    return sum(_stack.core_seconds(core)[0] for core in range(os.cpu_count() or 1))


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):  # a worker that has just gone
            total += _stack.cpu_seconds(pid)
    return total


def _wait_for_workers(home: Path, parent: int, count: int, port: int) -> None:
    """Until every worker has started (each publishes its metrics file once it serves)."""
    run = home / "run" / f"serve-{parent}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if count == 1 or len(list(run.glob("*.json"))) == count:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    return
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"{count} workers did not start within 180 s")


def wrk(port: int, key: str, connections: int, seconds: float, body: Path) -> dict[str, float]:
    """One wrk run: its BENCH_RESULT line, and the CPU seconds wrk itself used (``cpu_s``)."""
    env = {**os.environ, "BENCH_KEY": key, "BENCH_BODY_FILE": str(body)}
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [
                *(_nginx.tool("wrk"), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"),
                *("--timeout", "10s", "-s", str(LUA)),
                f"http://127.0.0.1:{port}/v1/chat/completions",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)  # its own CPU time, from the kernel
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text}")
    for line in text.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, float] = json.loads(line.removeprefix("BENCH_RESULT "))
            return result | {"cpu_s": usage.ru_utime + usage.ru_stime}
    raise RuntimeError(f"wrk printed no result: {text}")


def redis_cpu(url: str) -> float:
    """CPU seconds the Redis server has used (every client's work: an upper bound of ours)."""
    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run_once(
    count: int,
    args: argparse.Namespace,
    nginx: subprocess.Popen[bytes],
    upstream: str,
    scratch: Path,
) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix=f"w{count}-", dir=scratch))
    settings = _stack.settings_for(home)
    key, _token = asyncio.run(_stack.make_registry(settings, upstream))
    port = _stack.free_port()
    command, env = _stack.gateway_command(settings, port, "warning")
    prefix = f"bench-workers:{uuid.uuid4().hex[:8]}"
    env |= {
        "MODELYARD_HOME": str(home),
        "MODELYARD_REDIS_URL": args.redis_url,
        "MODELYARD_REDIS_PREFIX": prefix,
    }
    command += ["--workers", str(count)]
    log = home / "serve.log"
    proc = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        _wait_for_workers(home, proc.pid, count, port)
        body = home / "request.json"
        body.write_text(json.dumps(BODY))
        wrk(port, key, args.connections, args.warmup, body)
        pids = [proc.pid, *workers_of(proc.pid)]
        mock = [nginx.pid, *workers_of(nginx.pid, "nginx")]
        before = _cpu(pids), _cpu(mock), redis_cpu(args.redis_url), _busy()
        result = wrk(port, key, args.connections, args.seconds, body)
        cpu = _cpu(pids) - before[0]
        aux = result["cpu_s"] + _cpu(mock) - before[1] + redis_cpu(args.redis_url) - before[2]
        others = (_busy() - before[3] - cpu - aux) / result["duration_s"]
        rss = [_stack.rss_mb(pid) for pid in pids[1:] or pids]
    finally:
        _stack.stop(proc, signal.SIGTERM)
        _clear_redis(args.redis_url, prefix)
    errors = sum(int(result[k]) for k in result if k.startswith("errors_"))
    return {
        "workers": count,
        "rps": result["rps"],
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "errors": errors,
        "cpu_ms_per_req": 1000 * cpu / max(1, result["requests"]),
        "aux_ms_per_req": 1000 * aux / max(1, result["requests"]),
        "others_cores": max(0.0, others),
        "rss_mb_per_worker": statistics.mean(rss),
    }


def _clear_redis(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        batch = list(client.scan_iter(match=f"{prefix}*", count=500))
        if batch:
            client.unlink(*batch)
    finally:
        client.close()


def main() -> None:
    args = _parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"machine: {os.cpu_count()} cores; load before: {os.getloadavg()}")
    scratch = Path(tempfile.mkdtemp(prefix="modelyard-bench-workers-"))
    nginx, upstream = _nginx.start(scratch / "nginx")
    results: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    try:
        for round_ in range(1, args.rounds + 1):
            for count in counts:
                row = run_once(count, args, nginx, upstream, scratch)
                results[count].append(row)
                print(
                    f"round {round_} workers {count}: {row['rps']:8.1f} req/s  "
                    f"p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:7.1f} ms  "
                    f"errors {int(row['errors'])}  cpu {row['cpu_ms_per_req']:.2f} ms/req  "
                    f"wrk+nginx+redis {row['aux_ms_per_req']:.2f} ms/req  "
                    f"rss {row['rss_mb_per_worker']:.0f} MB/worker  "
                    f"others {row['others_cores']:.2f} cores  load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    median = {n: statistics.median(r["rps"] for r in rows) for n, rows in results.items()}
    print(f"median req/s: {', '.join(f'{n} workers {v:.1f}' for n, v in median.items())}")
    if len(counts) >= 2:
        base, top = counts[0], counts[-1]
        ratio = median[top] / median[base]
        verdict = "meets" if ratio >= 1.7 else "misses"
        print(f"{top} workers / {base}: {ratio:.2f}x ({verdict} the 1.7x target)")
    gateway = statistics.median(r["cpu_ms_per_req"] for rows in results.values() for r in rows)
    aux = statistics.median(r["aux_ms_per_req"] for rows in results.values() for r in rows)
    cores = os.cpu_count() or 1
    print(
        f"CPU a request: gateway {gateway:.2f} ms, wrk+nginx+redis {aux:.2f} ms (medians). "
        f"Were the machine idle: {cores} workers sharing {cores} cores with the rest would "
        f"serve {cores * gateway / (gateway + aux):.2f}x one worker on a core of its own"
    )
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
