"""The OAuth 2 / OpenID Connect authorization server, on Authlib."""
