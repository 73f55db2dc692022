"""Django's PostgreSQL backend, with a health check that trusts a connection used a moment ago (``base``)."""
