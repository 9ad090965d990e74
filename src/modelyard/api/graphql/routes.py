"""Mounts ``/graphql`` (and GraphiQL's assets) on the app."""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.api.graphql import graphiql
from modelyard.api.graphql.endpoint import PATH, GraphQLEndpoint


def install(app: FastAPI) -> None:
    endpoint = GraphQLEndpoint()
    # every method reaches the endpoint: it answers those but GET and POST 405 in its shape
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    app.add_route(PATH, endpoint.handle, methods=methods, include_in_schema=False)
    graphiql.install(app)
