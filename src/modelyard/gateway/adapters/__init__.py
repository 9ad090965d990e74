"""One module per wire protocol; :mod:`modelyard.gateway.kinds` maps provider kinds to them."""
