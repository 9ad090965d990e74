"""The database goes away: usage waits in the durable outbox and is written exactly once when
the database is back.

PostgreSQL is reached through a local TCP proxy that the test can cut (open connections
reset, new ones refused: the server is down) or freeze (bytes stop: a network partition),
so the shared server itself is never stopped."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.db.engine import create_engine
from modelyard.db.tables import UsageEvent
from modelyard.usage.recorder import UsageRecorder
from tests.support import pg
from tests.usage.test_recorder import usage_record

REFUSING = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1


class Proxy:
    def __init__(self) -> None:
        self.port = 0
        self.flowing = asyncio.Event()
        self.flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(pg.HOST, pg.PORT)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()


@pytest.fixture
async def proxied(database_url: str) -> AsyncIterator[tuple[Proxy, AsyncEngine]]:
    proxy = Proxy()
    await proxy.start()
    name = database_url.rsplit("/", 1)[1]
    engine = create_engine(f"postgresql+asyncpg://{pg.USER}@127.0.0.1:{proxy.port}/{name}")
    yield proxy, engine
    proxy.flowing.set()
    await engine.dispose()
    await proxy.cut()


async def count(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(UsageEvent)) or 0)
    finally:
        await engine.dispose()


async def test_an_unreachable_database_parks_every_row_durably_until_it_returns(
    database_url: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    gone = create_engine(REFUSING)
    down = UsageRecorder(gone, outbox=outbox)
    await down.start()
    for n in range(300):
        down.record(usage_record(f"req-{n}"))
    await down.flush()
    await gone.dispose()
    assert len(outbox.read_bytes().splitlines()) == 300  # on disk, fsync'd
    assert down.pending() == 300
    await down.stop()
    shutil.copy(outbox, tmp_path / "copy")

    engine = create_engine(database_url)
    back = UsageRecorder(engine, outbox=outbox)
    assert back.pending() == 300  # a new process sees what the last one parked
    await back.start()  # replays the outbox before anything else
    assert await count(database_url) == 300
    assert outbox.read_bytes() == b""
    assert back.pending() == 0
    await back.stop()

    shutil.copy(tmp_path / "copy", outbox)  # the same rows replayed again record nothing
    again = UsageRecorder(engine, outbox=outbox)
    await again.start()
    await again.stop()
    await engine.dispose()
    assert await count(database_url) == 300
    assert outbox.read_bytes() == b""


async def test_a_torn_last_line_is_set_aside_and_the_rest_replayed(
    database_url: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    outbox.write_bytes(b"".join(usage_record(f"req-{n}").to_json() + b"\n" for n in range(5)))
    with outbox.open("ab") as handle:  # a crash in the middle of an append
        handle.write(usage_record("torn").to_json()[:40])
    gone = create_engine(REFUSING)
    down = UsageRecorder(gone, outbox=outbox)
    down.record(usage_record("after-the-crash"))
    await down.stop()
    await gone.dispose()

    engine = create_engine(database_url)
    back = UsageRecorder(engine, outbox=outbox)
    await back.start()
    await back.stop()
    await engine.dispose()
    assert await count(database_url) == 6  # req-0..4 and the row appended after the crash
    assert back.outbox.rejected_path.read_bytes().startswith(b'{"request_id":"torn"')


async def test_a_call_recorded_after_stop_still_reaches_the_outbox(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox")
    await recorder.start()
    await recorder.stop()
    recorder.record(usage_record("late"))
    assert recorder.pending() == 1
    await recorder.start()
    await recorder.stop()
    await engine.dispose()
    assert await count(database_url) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
async def test_connections_killed_mid_load_lose_and_double_no_row(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox", flush_interval_s=0.02)
    await recorder.start()
    killer = await asyncpg.connect(host=pg.HOST, port=pg.PORT, user=pg.USER, database="test")
    query = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{database_url.rsplit('/', 1)[1]}' AND pid <> pg_backend_pid()"
    )
    killed = 0
    for n in range(2000):
        recorder.record(usage_record(f"call-{n}"))
        if n % 400 == 200:
            killed += await killer.fetchval(query)
        await asyncio.sleep(0.0005)
    await killer.close()
    await recorder.stop()
    await engine.dispose()
    assert killed >= 3
    assert await count(database_url) == 2000
    assert recorder.pending() == 0
    assert not recorder.outbox.rejected_path.exists()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
async def test_database_down_mid_load_then_back_records_every_call_once(
    database_url: str, tmp_path: Path, proxied: tuple[Proxy, AsyncEngine]
) -> None:
    proxy, engine = proxied
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox", flush_interval_s=0.02)
    await recorder.start()
    parked = 0
    for n in range(1500):
        recorder.record(usage_record(f"call-{n}"))
        if n == 500:
            await proxy.cut()
        if n == 1000:
            parked = len(recorder.outbox)
            await proxy.start()  # back on the same port
        await asyncio.sleep(0.001)
    await recorder.stop()
    assert parked > 300  # the rows of the outage were on disk, not only in memory
    assert await count(database_url) == 1500
    assert recorder.pending() == 0
    assert recorder.outbox.path.read_bytes() == b""


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
async def test_a_database_that_stops_answering_does_not_hold_rows_hostage(
    database_url: str, tmp_path: Path, proxied: tuple[Proxy, AsyncEngine]
) -> None:
    proxy, engine = proxied
    recorder = UsageRecorder(engine, outbox=tmp_path / "outbox", write_timeout_s=0.5)
    await recorder.start()
    proxy.flowing.clear()  # a network partition: connections stay open, nothing answers
    for n in range(50):
        recorder.record(usage_record(f"call-{n}"))
    async with asyncio.timeout(5):
        await recorder.flush()
    assert len(recorder.outbox) == 50
    proxy.flowing.set()
    await recorder.stop()
    assert await count(database_url) == 50
    assert recorder.pending() == 0


async def test_running_recorders_never_share_an_outbox_and_orphans_are_adopted(
    database_url: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    gone = create_engine(REFUSING)
    first, second = UsageRecorder(gone, outbox=outbox), UsageRecorder(gone, outbox=outbox)
    await first.start()
    await second.start()  # say a second worker process given the same path
    assert (first.outbox.path, second.outbox.path) == (outbox, tmp_path / "outbox.1")
    for n in range(20):
        (first if n % 2 else second).record(usage_record(f"req-{n}"))
    await first.stop()
    await second.stop()
    await gone.dispose()

    engine = create_engine(database_url)
    only = UsageRecorder(engine, outbox=outbox)  # one worker after the restart
    await only.start()
    await only.stop()
    await engine.dispose()
    assert await count(database_url) == 20
    assert only.pending() == 0
