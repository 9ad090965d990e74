"""The registry: providers, models, prices, users, API keys, settings, preferences, the audit
trail and sealed secrets, each a service over the database with its business rules. Nothing
here knows about HTTP; :class:`modelyard.services.Registry` bundles these services with
billing's and usage's around one :class:`~modelyard.registry.tx.Database`."""
