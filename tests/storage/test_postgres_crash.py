"""A PostgreSQL writer killed by SIGKILL mid-batch leaves whole batches only (all or nothing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from crmkit.storage.postgres import PostgresStore
from crmkit.storage.postgres._testing import drop_schema, server_url

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

_N = 50_000

# Writes batches of _N events with fresh ids, forever, reporting each commit and its duration.
_CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from crmkit.columns import EventColumns
    from crmkit.storage.postgres import PostgresStore

    n = int(sys.argv[2])
    store = PostgresStore(sys.argv[1])
    i = np.arange(n)
    print("ready", flush=True)
    for k in range(10**6):
        events = EventColumns.from_arrays(
            event_id=np.char.add(f"b{k}-", i.astype(str)),
            customer_id=np.char.add("c", (i % 1000).astype(str)),
            type=np.full(n, "page_view"),
            at=np.datetime64("2024-01-01T00:00:00", "us") + i.astype("timedelta64[s]"),
        )
        t0 = time.perf_counter()
        with store.transaction():
            store.events.upsert_columns(events)
        print(f"committed {time.perf_counter() - t0:.3f}", flush=True)
    """
)


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh schema of the test server, dropped after the test."""
    fresh = server_url("crmkit_crash")
    PostgresStore(fresh).close()
    yield fresh
    drop_schema(fresh)


@pytest.mark.slow
@pytest.mark.parametrize("batches_before_kill", [0, 1])
def test_sigkill_mid_batch_leaves_all_or_nothing(url: str, batches_before_kill: int) -> None:
    """After SIGKILL mid-batch the store holds whole batches only, each id once."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, url, str(_N)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        pause = 0.1
        for _ in range(batches_before_kill):
            line = proc.stdout.readline().split()
            assert line[0] == "committed"
            pause = float(line[1]) / 2  # half-way through the next batch
        time.sleep(pause)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with PostgresStore(url) as store:
        count = store.events.count()
        assert count % _N == 0
        assert count >= batches_before_kill * _N
        ids = store.events.columns().event_id.tolist()
        assert len(set(ids)) == count
