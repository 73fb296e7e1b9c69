"""Benchmark results, the machine they ran on, and their two renderings (table, JSON)."""

from __future__ import annotations

import json
import os
import platform
import ssl
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One measured figure beside its baseline; ``ratio`` is value / baseline."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    goal: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def meets_goal(self) -> bool | None:
        ratio = self.ratio
        if ratio is None or self.goal is None:
            return None
        return ratio >= self.goal

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["value"] = round(self.value, 3)
        data["baseline"] = None if self.baseline is None else round(self.baseline, 3)
        ratio = self.ratio
        data["ratio"] = None if ratio is None else round(ratio, 3)
        return data


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_description() -> str:
    """A one-line description of where the figures came from."""
    return (
        f"{_cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {ssl.OPENSSL_VERSION}"
    )


def render_table(results: list[BenchResult]) -> str:
    """A readable fixed-width table."""
    header = f"{'benchmark':<52} {'value':>14} {'unit':<10} {'baseline':>14} {'ratio':>7} goal"
    lines = [header, "-" * len(header)]
    for result in results:
        baseline = "" if result.baseline is None else f"{result.baseline:14,.1f}"
        ratio = "" if result.ratio is None else f"{result.ratio:7.2f}"
        goal = "" if result.goal is None else f">= {result.goal}"
        if result.meets_goal is False:
            goal += " (missed)"
        lines.append(
            f"{result.name:<52} {result.value:14,.1f} {result.unit:<10} "
            f"{baseline:>14} {ratio:>7} {goal}"
        )
        if result.note:
            lines.append(f"    {result.note}")
    return "\n".join(lines)


def render_json(results: list[BenchResult], machine: str) -> str:
    """The one-line JSON object of DESIGN.md's ``--json`` format."""
    return json.dumps({"machine": machine, "results": [r.as_dict() for r in results]})
