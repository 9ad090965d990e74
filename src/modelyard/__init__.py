"""modelyard: one registry for an organisation's LLM providers, models, keys and prices."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``modelyard.open`` without importing the whole server on ``import modelyard``."""
    if name == "open":
        from modelyard.library import open as open_  # noqa: PLC0415 - lazy on purpose

        return open_
    raise AttributeError(name)
