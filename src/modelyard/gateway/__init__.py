"""The gateway: one OpenAI-compatible endpoint that resolves, limits, retries, falls back and
records every call, served from an in-memory snapshot of the registry."""
