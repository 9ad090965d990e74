"""Users, API keys, preferences, OAuth clients and signing keys: the accounts area's
``Query`` and ``Mutation``, merged from :mod:`.accounts_users`, :mod:`.accounts_keys` and
:mod:`.accounts_apps`."""

from __future__ import annotations

from strawberry.tools import merge_types

from modelyard.api.graphql.areas import accounts_apps, accounts_keys, accounts_users

Query = merge_types(
    "AccountsQuery", (accounts_users.Query, accounts_keys.Query, accounts_apps.Query)
)
Mutation = merge_types(
    "AccountsMutation", (accounts_users.Mutation, accounts_keys.Mutation, accounts_apps.Mutation)
)
