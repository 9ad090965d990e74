"""modelyard: one registry for an organisation's LLM providers, models, keys and prices."""

__version__ = "0.1.0"
