"""The test server's URL with a fresh schema, for tests and doctests of the adapter.

``CRMKIT_TEST_POSTGRES_URL`` names the server. Without it the caller is skipped, except in CI
(``CI=true``), where a missing variable or an unreachable server fails.
"""

from __future__ import annotations

import functools
import os
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["ENV", "base_url", "drop_schema", "server_url"]

#: The environment variable holding the test server's URL.
ENV = "CRMKIT_TEST_POSTGRES_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def base_url() -> str:
    """The test server's URL; skips the caller (or fails it in CI) when there is none."""
    import pytest

    url = os.environ.get(ENV, "")
    if not url:
        reason = f"{ENV} is not set: no PostgreSQL server to test against"
        if _in_ci():
            pytest.fail(f"{reason} (CI=true: .ci/run exports it).")
        pytest.skip(reason)
    problem = _unreachable(url)
    if problem:
        reason = f"{ENV}: the server at {url} cannot be reached ({problem})"
        if _in_ci():
            pytest.fail(f"{reason}. CI needs it running.")
        pytest.skip(reason)
    return url


@functools.cache
def _unreachable(url: str) -> str:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ""


def drop_schema(url: str) -> None:
    """Drop the schema named by ``url`` (``?schema=``) on its server, with everything in it."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = [v for k, v in query if k == "schema"][-1]
    conninfo = urlunsplit(parts._replace(query=urlencode([q for q in query if q[0] != "schema"])))
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def server_url(prefix: str = "crmkit_doc") -> str:
    """The test server's URL with a fresh, unused schema name (drop it when done).

    Examples:
        >>> import os
        >>> os.environ.get(ENV) is None or "schema=crmkit_doc_" in server_url()
        True
    """
    parts = urlsplit(base_url())
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
    query.append(("schema", f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"))
    return urlunsplit(parts._replace(query=urlencode(query)))
