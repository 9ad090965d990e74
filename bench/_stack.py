"""The system under test for bench/gateway_throughput.py: a temporary SQLite registry with one
``openai`` provider pointed at the mock upstream, a priced model, a user and an API key with
rpm/tpm limits, and an OAuth access token of that user; the mock upstream and ``modelyard
serve`` as pinned subprocesses; and what /proc says about a process (CPU time, RSS)."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

from modelyard.bootstrap import bootstrap
from modelyard.db.auth_tables import OAuthToken
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.oauth_client_specs import OAuthClientCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings

BENCH = Path(__file__).resolve().parent
MODEL = "bench-model"
# high enough never to reject (about 100x what one core can serve), low enough for INTEGER
RPM_LIMIT = 100_000_000
TPM_LIMIT = 2_000_000_000
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
Env = dict[str, str]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # fields 14 and 15 of stat


def core_seconds(core: int) -> tuple[float, float]:
    """(busy, stolen) seconds of ``core`` from /proc/stat: busy is user and system time of
    any process (interrupt time, mostly this benchmark's loopback traffic, left out); stolen
    is time the hypervisor ran something else on this virtual CPU."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, line.split()[1:9])
            return (user + nice + system) / CLOCK_TICK, steal / CLOCK_TICK
    raise ValueError(f"no cpu{core} in /proc/stat")


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and its parts (RssAnon, RssFile, RssShmem) from /proc/<pid>/status, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            out[name] = int(value.split()[0]) / 1024
    return out


def rss_mb(pid: int) -> float:
    return memory_mb(pid).get("VmRSS", float("nan"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(workdir: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'modelyard.db'}",
        master_key_file=workdir / "modelyard.key",
        usage_outbox=workdir / "usage.outbox",
        admin_email="admin@bench.local",
    )


async def make_registry(
    settings: Settings, upstream_url: str, *, key_limits: bool = True
) -> tuple[str, str]:
    """Migrate, bootstrap, create provider, model, user, an API key and an OAuth access
    token for that user (``mint_access_token``); return the key and the token. Without
    ``key_limits`` the key has no rpm/tpm limits of its own, like the token: both then meet
    only their user's limits and differ in how they are authenticated alone."""
    registry = Registry.open(settings)
    try:
        boot = await bootstrap(settings, registry)
        assert boot.admin_key is not None
        admin = await registry.keys.authenticate(boot.admin_key)
        provider = await registry.providers.create(
            admin,
            {
                "name": "mock",
                "kind": "openai",
                "base_url": upstream_url,
                "api_key": "sk-bench-upstream-key",
            },
        )
        await registry.models.create(
            admin,
            {
                "provider_id": provider.id,
                "model_id": MODEL,
                "capabilities": ["text", "streaming"],
                "price": {"input_per_mtok": "0.15", "output_per_mtok": "0.60"},
            },
        )
        limits = {"rpm_limit": RPM_LIMIT, "tpm_limit": TPM_LIMIT}
        user = await registry.users.create(admin, UserCreate(email="bench@bench.local", **limits))
        created = await registry.keys.create(
            admin, ApiKeyCreate(name="bench", user_id=user.id, **(limits if key_limits else {}))
        )
        return created.key, await mint_access_token(registry, user.id)
    finally:
        await registry.close()


async def mint_access_token(registry: Registry, user_id: uuid.UUID) -> str:
    """An OAuth access token (``myat_``, valid a day, scope ``llm.inference``) for ``user_id``
    through a public client ``bench-app``, stored as the authorization server stores one
    (only its SHA-256; not audited, as issuing is not)."""
    token = "myat_" + secrets.token_urlsafe(32)
    operator = Actor.operator("bench")
    spec = OAuthClientCreate(
        client_id="bench-app",
        name="Benchmark app",
        client_type="public",
        redirect_uris=["http://127.0.0.1/callback"],
        grant_types=["authorization_code", "refresh_token"],
        scopes=["llm.inference"],
    )
    client = (await registry.oauth_clients.create(operator, spec)).client
    async with registry.db.write(operator) as tx:
        tx.session.add(
            OAuthToken(
                id=uuid.uuid4(),
                client_pk=client.id,
                user_id=user_id,
                family_id=uuid.uuid4(),
                access_hash=hashlib.sha256(token.encode()).hexdigest(),
                scopes=["llm.inference"],
                grant_type="authorization_code",
                issued_at=tx.now,
                access_expires_at=tx.now + timedelta(days=1),
            )
        )
    return token


def start_mock(core: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The mock upstream on ``core``; returns it and its port."""
    os.sched_setaffinity(0, {core})  # inherited by the child
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "_mock_upstream.py")],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("port "):
        proc.kill()
        raise RuntimeError(f"the mock upstream did not start (see {log})")
    return proc, int(line.split()[1])


def start_sink(core: int, log: Path, mode: str) -> tuple[subprocess.Popen[bytes] | None, int]:
    """The discarding OTLP receiver (bench/_otlp_sink.py) on ``core``; ``mode`` "down": none,
    and a port that refuses connections."""
    if mode == "down":
        return None, free_port()
    os.sched_setaffinity(0, {core})
    command = [sys.executable, str(BENCH / "_otlp_sink.py")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log.open("wb"))
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("port "):
        proc.kill()
        raise RuntimeError(f"the OTLP sink did not start (see {log})")
    return proc, int(line.split()[1])


def gateway_command(settings: Settings, port: int, log_level: str) -> tuple[list[str], Env]:
    """``modelyard serve`` (one uvicorn worker) on the benchmark's registry."""
    env = {
        **os.environ,
        "MODELYARD_DATABASE_URL": settings.database_url,
        "MODELYARD_MASTER_KEY_FILE": str(settings.master_key_file),
        "MODELYARD_USAGE_OUTBOX": str(settings.usage_outbox),
        "MODELYARD_ADMIN_EMAIL": settings.admin_email,
        "MODELYARD_LOG_LEVEL": log_level,
    }
    return [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)], env


def baseline_command(mode: str, port: int, upstream: str, log_level: str) -> list[str]:
    script = str(BENCH / "_baseline_app.py")
    return [
        sys.executable,
        script,
        mode,
        "--port",
        str(port),
        "--upstream",
        upstream,
        "--log-level",
        log_level,
    ]


def start_server(
    command: list[str], env: Env | None, core: int, port: int, log: Path
) -> subprocess.Popen[bytes]:
    """The server under test on ``core``, its output in ``log``; returns once /health answers."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})  # inherited by the child
    try:
        proc = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    finally:
        os.sched_setaffinity(0, before)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} (see {log})")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not answer /health within 60 s (see {log})")


def check_gateway(port: int, key: str, body: bytes, stream: bool) -> None:
    """One call through the gateway, to fail early and loudly if the stack is miswired."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            text = reply.read()
            provider = reply.headers.get("x-modelyard-provider")
            limit = reply.headers.get("x-ratelimit-limit-requests")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"the gateway answered {exc.code}: {exc.read()[:500]!r}") from None
    if provider != "mock" or limit is None:
        raise RuntimeError(f"unexpected gateway reply headers: provider={provider} limit={limit}")
    if stream and not text.rstrip().endswith(b"data: [DONE]"):
        raise RuntimeError(f"unexpected streamed reply: {text[:200]!r}")
    if not stream and b"Hello from the mock." not in text:
        raise RuntimeError(f"unexpected reply: {text[:200]!r}")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, wait_s: float = 60) -> None:
    """Graceful stop (SIGINT lets the gateway flush its usage rows), then kill."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def usage_rows(settings: Settings) -> int:
    path = settings.database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM usage_events").fetchone()[0])
