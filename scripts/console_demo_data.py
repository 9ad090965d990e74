"""Sample data for the console's screenshots: providers (one declarative), about twenty
priced models (one price scheduled, one model deprecated), users, keys, plans,
subscriptions, credits, an OAuth client, settings changed twice (so the audit trail has a
diff to show) and calls through /v1/chat/completions to the mock upstream (so the
dashboard and the usage explorer have figures). Everything goes through the REST API and
the gateway of a running server, as an operator would."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.support.console_site import Site
from tests.support.mock_openai import GOOD_KEY

from modelyard.kinds.declarative_examples import EXAMPLE_OPENAI_CHAT

# provider name: (kind, models as (model id, display name, context window, capabilities,
# input and output price per million tokens))
MODELS: dict[str, list[tuple[str, str, int, list[str], str, str]]] = {
    "openai-main": [
        ("gpt-4o", "GPT-4o", 128_000, ["text", "vision", "function_calling"], "2.5", "10"),
        (
            "gpt-4o-mini",
            "GPT-4o mini",
            128_000,
            ["text", "vision", "function_calling"],
            "0.15",
            "0.6",
        ),
        ("gpt-4.1", "GPT-4.1", 1_047_576, ["text", "code", "long_context"], "2", "8"),
        ("gpt-4.1-mini", "GPT-4.1 mini", 1_047_576, ["text", "code"], "0.4", "1.6"),
        ("o3-mini", "o3-mini", 200_000, ["text", "code"], "1.1", "4.4"),
        ("text-embedding-3-small", "Embedding 3 small", 8_191, ["embedding"], "0.02", "0"),
        ("broken", "Always fails (demo)", 8_192, ["text"], "1", "1"),
    ],
    "anthropic-main": [
        ("claude-sonnet-4", "Claude Sonnet 4", 200_000, ["text", "vision", "code"], "3", "15"),
        ("claude-haiku-3.5", "Claude Haiku 3.5", 200_000, ["text"], "0.8", "4"),
        ("claude-opus-4", "Claude Opus 4", 200_000, ["text", "vision", "code"], "15", "75"),
    ],
    "local-ollama": [
        ("llama3.1-8b", "Llama 3.1 8B", 128_000, ["text"], "0", "0"),
        ("qwen2.5-7b", "Qwen 2.5 7B", 32_768, ["text", "code"], "0", "0"),
        ("mistral-7b", "Mistral 7B", 32_768, ["text"], "0", "0"),
        ("nomic-embed-text", "Nomic embed", 8_192, ["embedding"], "0", "0"),
    ],
    "acme-declarative": [
        ("acme-chat-1", "Acme Chat 1", 64_000, ["text"], "0.5", "1.5"),
        ("acme-chat-2", "Acme Chat 2", 128_000, ["text", "function_calling"], "1", "3"),
        ("acme-chat-lite", "Acme Chat Lite", 16_000, ["text"], "0.1", "0.3"),
    ],
    "gemini-main": [
        ("gemini-2.0-flash", "Gemini 2.0 Flash", 1_048_576, ["text", "vision"], "0.1", "0.4"),
        (
            "gemini-2.5-pro",
            "Gemini 2.5 Pro",
            1_048_576,
            ["text", "vision", "long_context"],
            "1.25",
            "10",
        ),
    ],
}
PEOPLE = (
    ("ana@example.com", "Ana Analyst"),
    ("ben@example.com", "Ben Builder"),
    ("chloe@example.com", "Chloe Chen"),
)


@dataclass
class Seeded:
    """The ids the screenshots need."""

    providers: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)  # provider/model id: its id
    users: dict[str, str] = field(default_factory=dict)  # email: id
    calls: int = 0


def _providers(site: Site, seeded: Seeded) -> None:
    specs: list[dict[str, Any]] = [
        {
            "name": "openai-main",
            "display_name": "OpenAI (mock upstream)",
            "kind": "openai_compatible",
            "base_url": site.upstream.url,
            "api_key": GOOD_KEY,
        },
        {
            "name": "anthropic-main",
            "display_name": "Anthropic",
            "kind": "anthropic",
            "api_key": "sk-ant-demo-not-a-real-key-0000",
        },
        {
            "name": "local-ollama",
            "display_name": "Ollama on this machine",
            "kind": "ollama",
            "base_url": "http://127.0.0.1:11434",
        },
        {
            "name": "acme-declarative",
            "display_name": "Acme (declarative)",
            "kind": "declarative",
            "base_url": site.upstream.url.removesuffix("/v1"),
            "api_key": GOOD_KEY,
            "config": EXAMPLE_OPENAI_CHAT,
        },
        {
            "name": "gemini-main",
            "display_name": "Google Gemini",
            "kind": "gemini",
            "api_key": "demo-gemini-key-not-real-0000",
        },
    ]
    for spec in specs:
        made = site.api("POST", "/api/v1/providers", json=spec).json()
        seeded.providers[spec["name"]] = made["id"]
    first = seeded.providers["openai-main"]
    site.api("POST", f"/api/v1/providers/{first}/activate")
    site.api("POST", f"/api/v1/providers/{first}/set-default")


def _models(site: Site, seeded: Seeded) -> None:
    for provider, models in MODELS.items():
        for model_id, display, window, capabilities, cost_in, cost_out in models:
            price = {
                "input_per_mtok": cost_in,
                "output_per_mtok": cost_out,
                "credits_per_1k": "0.5",
            }
            made = site.api(
                "POST",
                "/api/v1/models",
                json={
                    "provider_id": seeded.providers[provider],
                    "model_id": model_id,
                    "display_name": display,
                    "context_window": window,
                    "capabilities": capabilities,
                    "price": price,
                },
            ).json()
            seeded.models[f"{provider}/{model_id}"] = made["id"]
    mini = seeded.models["openai-main/gpt-4o-mini"]
    site.api("POST", f"/api/v1/models/{mini}/set-default")
    site.api(
        "PATCH",
        f"/api/v1/models/{seeded.models['openai-main/gpt-4o']}",
        json={"fallbacks": ["openai-main/gpt-4o-mini", "anthropic-main/claude-sonnet-4"]},
    )
    later = (datetime.now(UTC) + timedelta(days=14)).replace(microsecond=0).isoformat()
    site.api(
        "POST",
        f"/api/v1/models/{seeded.models['openai-main/gpt-4o']}/prices",
        json={
            "input_per_mtok": "2",
            "output_per_mtok": "8",
            "credits_per_1k": "0.4",
            "effective_from": later,
        },
    )
    site.api("POST", f"/api/v1/models/{seeded.models['anthropic-main/claude-haiku-3.5']}/deprecate")
    site.api(
        "PUT", "/api/v1/settings/defaults.chat_model", json={"value": "openai-main/gpt-4o-mini"}
    )


def _people(site: Site, seeded: Seeded) -> dict[str, str]:
    """Users, their keys, a plan each, credits; the keys' secrets by email."""
    seeded.users[site.member.email] = site.member.user_id
    for email, name in PEOPLE:
        made = site.api(
            "POST", "/api/v1/users", json={"email": email, "display_name": name, "role": "member"}
        ).json()
        seeded.users[email] = made["id"]
    for plan, credits, rpm in (("starter", "100", 20), ("team", "1000", 120)):
        site.api(
            "POST",
            "/api/v1/plans",
            json={
                "name": plan,
                "display_name": plan.title(),
                "monthly_credits": credits,
                "rpm_limit": rpm,
            },
        )
    keys: dict[str, str] = {}
    for number, (email, user_id) in enumerate(seeded.users.items()):
        keys[email] = site.api(
            "POST", "/api/v1/keys", json={"name": "laptop", "user_id": user_id}
        ).json()["key"]
        plan = "team" if number % 2 == 0 else "starter"
        site.api("POST", "/api/v1/subscriptions", json={"user_id": user_id, "plan": plan})
        site.api(
            "POST",
            "/api/v1/credits/grants",
            json={"user_id": user_id, "amount": str(50 + 25 * number), "reason": "Welcome credits"},
        )
    site.api(
        "POST",
        "/api/v1/oauth/clients",
        json={
            "client_id": "textassistant-desktop",
            "name": "Text Assistant (desktop)",
            "client_type": "public",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "scopes": ["openid", "email", "llm.inference", "models.read"],
        },
    )
    return keys


def _calls(site: Site, seeded: Seeded, keys: dict[str, str]) -> None:
    models = [
        "openai-main/gpt-4o-mini",
        "openai-main/gpt-4o",
        "openai-main/gpt-4.1",
        "openai-main/o3-mini",
        "openai-main/broken",
    ]
    with httpx.Client(base_url=site.base, timeout=30) as http:
        for number in range(36):
            email = list(keys)[number % len(keys)]
            model = models[number % len(models)] if number % 9 else "openai-main/broken"
            http.post(
                "/v1/chat/completions",
                headers={"Authorization": f"Bearer {keys[email]}"},
                json={"model": model, "messages": [{"role": "user", "content": "Hi"}]},
            )
            seeded.calls += 1
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the usage writer stores calls in the background
        if site.api("GET", "/api/v1/usage/events", params={"limit": 1}).json()["total"] >= 30:
            return
        time.sleep(0.5)


def seed(site: Site) -> Seeded:
    seeded = Seeded()
    site.api(
        "PUT",
        "/api/v1/settings/gateway.retry",
        json={"value": {"max_attempts": 2, "base_delay_ms": 100, "max_delay_ms": 1000}},
    )
    _providers(site, seeded)
    _models(site, seeded)
    keys = _people(site, seeded)
    _calls(site, seeded, keys)
    # the newest event: a setting changed, so the audit trail opens on a readable diff
    site.api(
        "PUT",
        "/api/v1/settings/gateway.retry",
        json={
            "value": {
                "max_attempts": 3,
                "base_delay_ms": 250,
                "max_delay_ms": 4000,
                "schedule_ms": [250, 1000, 4000],
            }
        },
    )
    return seeded
