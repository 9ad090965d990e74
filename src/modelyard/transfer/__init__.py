"""Moving a registry in and out: ``modelyard import`` and ``modelyard export``, and the same
over REST (``/api/v1/import``, ``/api/v1/export``).

Every format is read into one shape, a modelyard registry document (:mod:`.document`), and
applied through the registry services in one transaction (:mod:`.apply`); a dry run applies it
the same way and rolls back. Readers: :mod:`.seed004` (seed 004's ``admin_settings.json``),
:mod:`.litellm` (LiteLLM's ``config.yaml``); :mod:`.service` is what the CLI and the API call.
"""
