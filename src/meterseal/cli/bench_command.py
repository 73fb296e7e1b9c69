"""``meterseal bench AREA [--json]``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from meterseal.bench import crypto, ingest
from meterseal.bench.report import BenchResult, machine_description, render_json, render_table
from meterseal.hsm import bench as hsm_bench
from meterseal.ledger import bench as ledger_bench
from meterseal.store import bench as store_bench

AREAS: dict[str, Callable[[float], list[BenchResult]]] = {
    "crypto": crypto.run,
    "hsm": hsm_bench.run,
    "ledger": ledger_bench.run,
    "ingest": ingest.run,
    "store": store_bench.run,
}


def run_bench(args: argparse.Namespace) -> int:
    machine = machine_description()
    print(f"machine: {machine}", flush=True)
    results = AREAS[args.area](args.seconds)
    print(render_table(results))
    if args.json:
        print(render_json(results, machine))
    return 0
