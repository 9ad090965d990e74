"""What a call's limits scopes are called in its error messages.

Limits keys name a scope by id (``plan:<user id>``, ``key:<key id>``, ``provider:<id>``);
a caller knows them by name: "the 'free' plan", "the API key 'ci' (myk_3f9a...)", "provider
'openai'". Names are made only when a limit refuses a call, never on the way through.
"""

from __future__ import annotations

from modelyard.gateway.snapshot import Billing, KeyEntry, ProviderEntry


def caller_scope(limits_key: str, key: KeyEntry, plan: Billing | None) -> str:
    """The name of one of the caller's own scopes (an API key, a user, a plan)."""
    scope = limits_key.partition(":")[0]
    if scope in ("plan", "plan-parallel") and plan is not None:
        return f"the '{plan.plan}' plan (per user)"
    if scope == "key":
        if key.key_name and key.key_prefix:
            return f"the API key '{key.key_name}' ({key.key_prefix}...)"
        return "this API key"
    if scope == "user":
        return "your account (all its API keys together)"
    return limits_key


def provider_scope(provider: ProviderEntry) -> str:
    return f"provider '{provider.name}'"
