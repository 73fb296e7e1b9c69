"""``meterseal demo [--meters N] [--days D] [--data-dir DIR] [--json]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from meterseal.demo import DemoOptions, DemoSummary, run_demo
from meterseal.meter.fleet import FleetProgress

BAR_WIDTH = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--meters", type=int, default=100, help="fleet size (default 100)")
    parser.add_argument("--days", type=int, default=1, help="days of readings (default 1)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the store and keys live (default: new temp dir)",
    )
    parser.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, progress: FleetProgress) -> None:
        now = time.monotonic()
        done = progress.meters_done == progress.meters
        if now - self._last < 0.1 and not done:
            return
        self._last = now
        total = max(progress.batches_total, 1)
        filled = BAR_WIDTH * progress.batches_acked // total
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"{progress.batches_acked}/{progress.batches_total} batches acked, "
            f"{progress.meters_done}/{progress.meters} meters done"
        )
        if done:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _print_summary(summary: DemoSummary) -> None:
    stats = summary.headend
    print(f"data directory: {summary.data_dir}")
    print(f"store:          {summary.store_url}")
    print(
        f"meters:         {summary.meters} by suite {summary.by_suite}, by type {summary.by_type}"
    )
    print(f"handshakes:     {summary.handshakes_ok} ok, {summary.handshakes_failed} failed")
    print(
        f"batches:        {summary.batches_produced} produced, {stats.batches_accepted} accepted, "
        f"{stats.batches_duplicate} duplicate, {stats.batches_rejected} rejected, "
        f"{summary.batches_stored} stored"
    )
    print(
        f"readings:       {summary.readings_produced} produced, {stats.intervals_stored} stored "
        f"({summary.register_values_stored} register values in the store)"
    )
    print(f"commands:       {summary.commands_acked} time-sync commands acknowledged")
    rate = stats.intervals_stored / summary.elapsed_s if summary.elapsed_s else 0.0
    print(f"time:           {summary.elapsed_s:.1f} s ({rate:,.0f} readings/s)")
    verdict = (
        "every batch stored exactly once"
        if summary.exactly_once
        else (f"FAILED: {summary.missing_batches} batches missing")
    )
    print(f"result:         {verdict}")


def run_demo_command(args: argparse.Namespace) -> int:
    options = DemoOptions(
        meters=args.meters, days=args.days, data_dir=args.data_dir, seed=args.seed
    )
    print(f"meterseal demo: {options.meters} meters, {options.days} day(s) of readings", flush=True)
    summary = asyncio.run(run_demo(options, progress=ProgressBar()))
    _print_summary(summary)
    if args.json:
        print(json.dumps(summary.as_json()))
    return 0 if summary.exactly_once else 1
