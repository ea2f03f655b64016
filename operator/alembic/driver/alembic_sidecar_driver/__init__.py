"""alembic-sidecar's driver: every Python-side operation of one run.

Modules, lowest first (each imports only those above it):

- protocol    the line protocol: requests, replies, errors as data
- pgtools     where a libpq client would connect; the psql/pg_dump shim (stdlib only)
- fence       the isolation fence: SQLAlchemy, the DBAPI modules, libpq's tools and environment
- files       the project's files and commands as requests (also the exec launcher's)
- uncompared  what autogenerate does not compare, compared
- models      step 2: every mapped table against target_metadata
- operations  the alembic operations of one step
- server      the fork server: one process per run, one child per step

Embedded in the alembic-sidecar binary (cmake/embed_driver.cmake) and sent to the app's
interpreter by bootstrap.py; tests/python/ imports it from the source tree.
"""
