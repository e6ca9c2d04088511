"""An embedded PostgreSQL server managed by the beacon itself (the ``pgserver`` package).

The server lives in ``<data_dir>/postgres``, listens only on a Unix socket, and is shared by
every process that uses the same directory: the last one to exit stops it.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_servers: dict[Path, Any] = {}
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def server(data_dir: Path) -> Any:
    """The running embedded server for ``data_dir``, started on first use."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver

    pgdata = (data_dir / "postgres").resolve()
    with _lock:
        srv = _servers.get(pgdata)
        if srv is None:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            log.info("starting embedded PostgreSQL in %s", pgdata)
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers);
                # pgserver then falls back to a directory of its own, which is fine.
                warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
                srv = pgserver.get_server(pgdata, cleanup_mode="stop")
            _servers[pgdata] = srv
        return srv


def ensure_database(data_dir: Path, database: str) -> str:
    """Start the embedded server if needed, create ``database`` if missing, return its DSN.

    Raises ``ValueError`` for a database name that is not a plain lower-case identifier.
    """
    if not _DB_NAME.match(database):
        raise ValueError(f"invalid database name {database!r}")
    srv = server(data_dir)
    exists = srv.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        srv.psql(f'CREATE DATABASE "{database}";')
    uri: str = srv.get_uri(database)
    return uri
