"""``run_headend``: the blocking entry point of ``meterseal serve``, stopped by a signal."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest
from headend_support import Backend

from meterseal.headend.testing import LinkClosedError, MeterLink, async_test, make_meter
from meterseal.messages import AckStatus

pytest_plugins = ["headend_fixtures"]  # the backend and sqlite fixtures
pytestmark = pytest.mark.timeout(60)

SERVE = """
import sys
from meterseal.headend import HeadendConfig, run_headend
from meterseal.headend.testing import sample_keys

config = HeadendConfig(store_url=sys.argv[1], port=0)
final = run_headend(config, sample_keys(), on_ready=lambda handle: print(handle.port, flush=True))
print(final.batches_accepted, final.connections_closed_by.get("shutdown", 0), flush=True)
"""


@async_test
async def test_serve_runs_until_sigterm_then_stops_gracefully(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    store = sqlite.factory()
    store.add_meter(meter.record())
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE, sqlite.url, stdout=asyncio.subprocess.PIPE
    )
    assert server.stdout is not None
    port = int(await asyncio.wait_for(server.stdout.readline(), 30))
    link = await MeterLink.connect(port, meter)
    assert (await link.upload(meter.signed_batch(1))).status is AckStatus.ACCEPTED
    server.send_signal(signal.SIGTERM)
    with pytest.raises(LinkClosedError):
        await link.receive()
    final = await asyncio.wait_for(server.stdout.readline(), 30)
    assert await server.wait() == 0
    assert link.closed_by_headend == b"shutdown"
    assert final.split() == [b"1", b"1"]
    assert store.count_batches() == 1
    store.close()
