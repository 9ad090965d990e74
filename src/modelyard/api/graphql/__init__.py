"""``/graphql``: the GraphQL face of the registry services (seed 001's admin API).

Layout: :mod:`.endpoint` (HTTP, credentials, limits' settings), :mod:`.schema` (the root
types merged from :mod:`.areas`), :mod:`.context` (actor, scopes, dataloaders),
:mod:`.pagination` (connections), :mod:`.inputs`, :mod:`.scalars`, :mod:`.errors`,
:mod:`.limits`, :mod:`.executor` (plain objects completed fast) and :mod:`.graphiql`."""
