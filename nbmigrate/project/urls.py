"""Database URLs: the engine options and the synchronous driver a URL needs, and what is said about one.

:func:`sync_url` gives an asyncio driver's URL its synchronous twin, :func:`_missing_driver` says
what to install for a driver that is missing, :func:`_check_host` catches a password's "@" left
unquoted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import masking
from ..errors import BadArguments, ConnectionFailed

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def _engine_options(url: URL) -> dict[str, Any]:
    """An in-memory SQLite database lives in one connection: keep that one for every command.

    SQLAlchemy's default pool for it gives each thread its own connection, hence its own empty
    database, and every command runs in a thread of its own (see :mod:`nbmigrate._runtime`).
    """
    from sqlalchemy.pool import StaticPool

    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    return {}


# The synchronous twin of each asyncio driver: nbmigrate reads the database (heads, schema,
# locks) with plain blocking calls, while an async env.py still runs on its own async engine.
_SYNC_DRIVERS = {
    "aiosqlite": "pysqlite",
    "asyncpg": "psycopg",
    "psycopg_async": "psycopg",
    "aiomysql": "pymysql",
    "asyncmy": "pymysql",
    "aioodbc": "pyodbc",
}


def sync_url(url: URL) -> URL:
    """``url`` with a synchronous driver (``sqlite+aiosqlite`` → ``sqlite+pysqlite``, ...)."""
    try:
        is_async = bool(url.get_dialect().is_async)
    except Exception:  # an unknown or missing driver: create_engine reports it
        return url
    if not is_async:
        return url
    driver = _SYNC_DRIVERS.get(url.get_driver_name())
    if driver is None:
        raise ConnectionFailed(
            f"nbmigrate needs a synchronous driver for {url.get_backend_name()} (the URL uses the "
            f"asyncio driver {url.get_driver_name()!r}): `%migrate connect` a URL with one."
        )
    return url.set(drivername=f"{url.get_backend_name()}+{driver}")


# The extras that bring a driver, and the URL scheme each driver is named by.
_EXTRAS = {"postgresql": ("postgresql", "postgresql+psycopg"), "mysql": ("mysql", "mysql+pymysql"), "mariadb": ("mysql", "mariadb+pymysql")}


# Driver modules whose package on PyPI has another name.
_PACKAGES = {"MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary", "psycopg": '"psycopg[binary]"', "cx_Oracle": "cx-Oracle"}


def _missing_driver(url: URL, module: str) -> str:
    """One line for a URL whose driver is not installed: what to install, never the password."""
    backend = url.get_backend_name()
    package = _PACKAGES.get(module, module)
    said = f"The {backend} driver {module!r} is not installed in this kernel's environment"
    extra = _EXTRAS.get(backend)
    if extra is None:
        return f"{said}: install it (`pip install {package}`) and run the command again."
    name, scheme = extra
    if url.drivername == scheme:
        return f'{said}: `pip install "nbmigrate[{name}]"`, then run the command again.'
    return (
        f"{said}: install it (`pip install {package}`), or use the driver nbmigrate's extra brings: "
        f'`pip install "nbmigrate[{name}]"` and a {scheme}:// URL.'
    )


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every URL in it masked (see :mod:`nbmigrate.masking`)."""
    return masking.mask_url_passwords(text)


def _check_host(url: URL, redact: Callable[[str], str]) -> None:
    """A host with "@" in it is the tail of a password whose "@" was not written ``%40``."""
    if url.host and "@" in url.host:
        raise BadArguments(
            f"The database URL {redact(url.render_as_string(hide_password=True))} has an \"@\" after the "
            "password's first one: write each \"@\" of the password as %40 (urllib.parse.quote_plus)."
        )
