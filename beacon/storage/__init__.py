"""The only package that talks to PostgreSQL (and the only one importing asyncpg).

SQL lives here as named constants with ``$n`` parameters. Functions raise
:class:`beacon.errors.StoreUnavailable` when the database cannot answer, never HTTP errors.
"""
