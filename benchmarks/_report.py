"""What every benchmark report shares: the machine as the run found it, repeated measurements
summarised as median (min-max), verdicts computed from the median, and the Markdown section
replaced in docs/BENCHMARKS.md.

The rules the reports keep (docs/BENCHMARKS.md states them once):

- each side is measured at least 3 times in one invocation; a figure is the median, shown
  with its min and max;
- a target is met only when the median meets it, and the sentence says so from the numbers;
- a run that fails or does not reach its end state is reported as failed, never as a time
  (for a time target it counts as infinitely slow in the median);
- nothing with a figure or a verdict is typed in: every such sentence is built from the
  run's own data.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["fmt", "machine", "replace_section", "spread", "summary", "verdict"]


def machine() -> dict[str, Any]:
    """The machine and its load now (``uptime``), for a report's header."""
    try:
        load = subprocess.run(["uptime"], capture_output=True, text=True, check=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        load = "uptime unavailable; load average " + " ".join(
            f"{x:.2f}" for x in os.getloadavg())
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "uptime": load}


def summary(values: Iterable[float | None], *, failed_as: float = math.inf) -> dict[str, Any]:
    """Median, min and max of repeated measurements. ``None`` is a failed run: it counts in
    the median as ``failed_as`` (infinitely slow for a time; give 0 for a throughput), is
    left out of min and max, and is counted in ``failed``."""
    given = list(values)
    got = [failed_as if v is None else float(v) for v in given]
    ok = [float(v) for v in given if v is not None]
    return {"median": statistics.median(got) if got else math.nan,
            "min": min(ok) if ok else math.nan, "max": max(ok) if ok else math.nan,
            "n": len(got), "failed": len(got) - len(ok), "values": given}


def fmt(x: float, unit: str = "") -> str:
    """A number with as many digits as it deserves (1,234 / 12.3 / 1.23 / 0.123)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "failed"
    digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2 if abs(x) >= 1 else 3
    text = f"{x:,.{digits}f}"
    return text + unit


def spread(s: dict[str, Any], unit: str = "") -> str:
    """``median (min-max)``, or the median alone when there was one measurement."""
    if s["n"] <= 1 or math.isnan(s["min"]):
        return fmt(s["median"], unit)
    dash = "\u2013" if s["min"] >= 0 else " to "  # an en dash
    return f"{fmt(s['median'], unit)} ({fmt(s['min'])}{dash}{fmt(s['max'])})"


def verdict(value: float, target: float, *, higher_is_better: bool) -> str:
    """``met`` when ``value`` (a median) meets ``target``, else ``**not met**``."""
    if value is None or math.isnan(value):
        return "**not measured**"
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "**not met**"


def replace_section(markdown: Path, section: str, text: str) -> None:
    """Put ``text`` (starting with the ``section`` heading) in place of that section of
    ``markdown``, or append it."""
    doc = markdown.read_text(encoding="utf-8") if markdown.exists() else "# Benchmarks\n"
    if section in doc:
        head, _, rest = doc.partition(section)
        nxt = rest.find("\n## ")
        tail = rest[nxt:] if nxt >= 0 else "\n"
        doc = head + text.rstrip("\n") + "\n" + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    markdown.write_text(doc, encoding="utf-8")
