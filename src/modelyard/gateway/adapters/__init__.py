"""One module per wire protocol. :data:`ADAPTERS` maps a provider kind to its adapter; the
core looks adapters up here and never branches on a kind's name."""
