"""The schema by area: each module defines its types and a ``Query`` and ``Mutation`` class
whose fields :mod:`modelyard.api.graphql.schema` merges into the root types."""
