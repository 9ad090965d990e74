"""B, the upstream provider, started once for the package; browsers on A (the app under
test) that reach B over the network."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.web.upstream import instance_b
from tests.api.web.upstream.flow import Browsers, a_settings, open_browsers
from tests.api.web.upstream.instance_b import InstanceB


@pytest.fixture(scope="package")
def b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstanceB]:
    instance = instance_b.start(tmp_path_factory.mktemp("instance-b"))
    yield instance
    instance_b.stop(instance)


@pytest.fixture
async def browsers(
    settings: Settings, registry: Registry, admin_key: str, b: InstanceB
) -> AsyncIterator[Browsers]:
    async for made in open_browsers(a_settings(settings, b), registry):
        yield made
