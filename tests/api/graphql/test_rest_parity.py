"""Every REST operation of the admin API has its GraphQL field (or a stated reason not to):
a route added to REST without one fails here, and so does a name below that the schema
lost."""

from __future__ import annotations

from modelyard.api.app import create_app
from modelyard.api.graphql.schema import schema

# (method, path) of the served OpenAPI -> the root field doing the same.
PARITY: dict[tuple[str, str], str] = {
    ("get", "/api/v1/providers"): "providers",
    ("post", "/api/v1/providers"): "createProvider",
    ("get", "/api/v1/providers/{provider_id}"): "provider",
    ("patch", "/api/v1/providers/{provider_id}"): "updateProvider",
    ("delete", "/api/v1/providers/{provider_id}"): "deleteProvider",
    ("put", "/api/v1/providers/{provider_id}/api-key"): "rotateProviderKey",
    ("post", "/api/v1/providers/{provider_id}/enable"): "enableProvider",
    ("post", "/api/v1/providers/{provider_id}/disable"): "disableProvider",
    ("post", "/api/v1/providers/{provider_id}/set-default"): "setDefaultProvider",
    ("post", "/api/v1/providers/{provider_id}/activate"): "activateProvider",
    ("get", "/api/v1/providers/{provider_id}/models"): "provider",  # LlmProvider.models
    ("get", "/api/v1/overview"): "llmProviders",
    ("get", "/api/v1/models"): "models",
    ("post", "/api/v1/models"): "createLlmModel",
    ("get", "/api/v1/models/{model_id}"): "model",
    ("patch", "/api/v1/models/{model_id}"): "updateLlmModel",
    ("delete", "/api/v1/models/{model_id}"): "deleteLlmModel",
    ("post", "/api/v1/models/{model_id}/deprecate"): "deprecateLlmModel",
    ("post", "/api/v1/models/{model_id}/reactivate"): "reactivateLlmModel",
    ("post", "/api/v1/models/{model_id}/set-default"): "setDefaultModel",
    ("get", "/api/v1/models/{model_id}/prices"): "model",  # LlmModel.priceHistory
    ("post", "/api/v1/models/{model_id}/prices"): "setModelPrice",
    ("get", "/api/v1/models/{model_id}/price"): "modelPriceAt",
    ("get", "/api/v1/settings"): "systemSettings",
    ("get", "/api/v1/settings/{key}"): "systemSetting",
    ("put", "/api/v1/settings/{key}"): "updateSystemSetting",
    ("delete", "/api/v1/settings/{key}"): "unsetSystemSetting",
    ("get", "/api/v1/users"): "users",
    ("post", "/api/v1/users"): "createUser",
    ("get", "/api/v1/users/me"): "me",
    ("get", "/api/v1/users/me/preferences"): "myPreferences",
    ("put", "/api/v1/users/me/preferences"): "updateMyPreferences",
    ("get", "/api/v1/users/{user_id}"): "user",
    ("patch", "/api/v1/users/{user_id}"): "updateUser",
    ("delete", "/api/v1/users/{user_id}"): "deleteUser",
    ("put", "/api/v1/users/{user_id}/password"): "setPassword",
    ("post", "/api/v1/users/{user_id}/restore"): "restoreUser",
    ("delete", "/api/v1/users/{user_id}/purge"): "purgeUser",
    ("get", "/api/v1/keys"): "apiKeys",
    ("post", "/api/v1/keys"): "createApiKey",
    ("delete", "/api/v1/keys/{key_id}"): "revokeApiKey",
    ("get", "/api/v1/audit"): "auditEvents",
    ("get", "/api/v1/audit/verify"): "verifyAuditChain",
    ("get", "/api/v1/usage"): "usageTotals",
    ("get", "/api/v1/usage/events"): "usageEvents",
    ("get", "/api/v1/plans"): "plans",
    ("post", "/api/v1/plans"): "createPlan",
    ("get", "/api/v1/plans/{plan}"): "plan",
    ("patch", "/api/v1/plans/{plan}"): "updatePlan",
    ("get", "/api/v1/subscriptions"): "subscriptions",
    ("post", "/api/v1/subscriptions"): "createSubscription",
    ("get", "/api/v1/subscriptions/{subscription_id}"): "subscription",
    ("patch", "/api/v1/subscriptions/{subscription_id}"): "updateSubscription",
    ("get", "/api/v1/credits"): "creditBalance",
    ("get", "/api/v1/credits/ledger"): "creditLedger",
    ("post", "/api/v1/credits/grants"): "grantCredits",
    ("post", "/api/v1/credits/adjustments"): "adjustCredits",
    ("post", "/api/v1/billing/renew"): "renewBilling",
    ("post", "/api/v1/import"): "importRegistry",
    ("get", "/api/v1/export"): "exportRegistry",
    ("get", "/api/v1/oauth/clients"): "oauthClients",
    ("post", "/api/v1/oauth/clients"): "createOAuthClient",
    ("get", "/api/v1/oauth/clients/{client_id}"): "oauthClient",
    ("patch", "/api/v1/oauth/clients/{client_id}"): "updateOAuthClient",
    ("delete", "/api/v1/oauth/clients/{client_id}"): "deleteOAuthClient",
    ("post", "/api/v1/oauth/clients/{client_id}/rotate-secret"): "rotateOAuthClientSecret",
    ("get", "/api/v1/oauth/signing-keys"): "signingKeys",
    ("post", "/api/v1/oauth/signing-keys/rotate"): "rotateSigningKey",
}

# REST operations deliberately not over GraphQL, and why.
NOT_OVER_GRAPHQL = {
    # An export with provider keys sealed under a passphrase answers a file to keep; it
    # stays on REST (and the CLI), where its body and answer are a download.
    ("post", "/api/v1/export"),
}


def _rest_operations() -> set[tuple[str, str]]:
    paths = create_app().openapi()["paths"]
    return {
        (method, path)
        for path, operations in paths.items()
        if path.startswith("/api/v1/")
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


def _root_fields() -> set[str]:
    built = schema()._schema
    assert built.query_type is not None
    assert built.mutation_type is not None
    return set(built.query_type.fields) | set(built.mutation_type.fields)


def test_every_rest_operation_has_its_graphql_field() -> None:
    rest = _rest_operations()
    missing = sorted(rest - set(PARITY) - NOT_OVER_GRAPHQL)
    assert not missing, f"REST operations with no GraphQL field in PARITY: {missing}"
    gone = sorted(op for op in set(PARITY) | NOT_OVER_GRAPHQL if op not in rest)
    assert not gone, f"PARITY names REST operations that no longer exist: {gone}"


def test_every_graphql_field_named_exists() -> None:
    absent = sorted({f for f in PARITY.values() if f not in _root_fields()})
    assert not absent, f"the schema has no root field {absent}"


def test_every_root_field_is_a_rest_operation_or_the_seeds() -> None:
    seed_and_extra = {"llmModels", "availableModels"}  # seed 001's own; no REST twin
    unmatched = sorted(_root_fields() - set(PARITY.values()) - seed_and_extra)
    assert not unmatched, (
        f"root fields matching no REST operation (add them to PARITY): {unmatched}"
    )
