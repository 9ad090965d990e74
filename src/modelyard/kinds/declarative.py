"""The ``declarative`` kind (seed 004): a new HTTP API as configuration, not code. The config
(:class:`~modelyard.adapters.declarative_config.DeclarativeConfig`) says how to authenticate,
build the request and read the reply; the base URL has no default, and a key is needed unless
``auth_scheme`` is ``none``. Complete example configs: :mod:`.declarative_examples`."""

from __future__ import annotations

from pydantic import BaseModel

from modelyard.adapters.declarative import ADAPTER
from modelyard.adapters.declarative_config import DeclarativeConfig
from modelyard.kinds.base import Kind


class DeclarativeKind(Kind):
    def requires_key(self, config: BaseModel) -> bool:
        return isinstance(config, DeclarativeConfig) and config.auth_scheme != "none"


KIND = DeclarativeKind(name="declarative", config_model=DeclarativeConfig, adapter=ADAPTER)
