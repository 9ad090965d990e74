"""The credit give-back listener connects with asyncpg directly, which reads an unknown query
parameter of its DSN as a server setting (refused by the server, so the listener would retry
forever and the last credits go unasked for). Only connection options libpq knows pass."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from modelyard.billing.giveback import GiveBack
from modelyard.billing.giveback_redis import messages_for
from modelyard.db.engine import create_engine
from modelyard.registry.tx import Database


async def test_the_listener_dsn_keeps_libpq_options_only() -> None:
    engine = create_engine(
        "postgresql+asyncpg://u:secret@db.internal:6432/yard"
        "?prepared_statement_cache_size=0&sslmode=require&application_name=x"
    )
    try:
        db = Database(engine, keyring=None, clock=lambda: datetime.now(UTC))
        giveback = messages_for(db, "holder", lambda _user: None, None, "p")
        assert isinstance(giveback, GiveBack)
        url = make_url(giveback.url)
        assert url.drivername == "postgresql"
        where = (url.host, url.port, url.database, url.username)
        assert where == ("db.internal", 6432, "yard", "u")
        assert url.password == "secret"
        assert dict(url.query) == {"sslmode": "require"}
    finally:
        await engine.dispose()
