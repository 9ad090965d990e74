"""The ``fake`` kind: deterministic replies, usage and failures with no network, for demos
and tests (:mod:`modelyard.adapters.fake`, configured by its
:class:`~modelyard.adapters.fake.FakeConfig`)."""

from __future__ import annotations

from modelyard.adapters.fake import ADAPTER, FakeConfig
from modelyard.kinds.base import Kind

KIND = Kind(
    name="fake",
    config_model=FakeConfig,
    adapter=ADAPTER,
    default_base_url="http://fake.invalid",
)
