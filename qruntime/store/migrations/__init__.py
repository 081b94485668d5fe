"""Alembic migrations of the store's schema; applied at start by :mod:`qruntime.store.migrate`."""
