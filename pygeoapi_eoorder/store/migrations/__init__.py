"""Alembic migrations of the shared store (see `pygeoapi_eoorder.store.migrate`)."""
