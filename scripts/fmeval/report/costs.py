"""What each job cost: wall time and memory from Snakemake's ``benchmark:`` files.

A benchmark file is a TSV with one row per repeat (columns ``s``, ``h:m:s``,
``max_rss``, ``max_vms``, ``max_uss``, ``max_pss``, ``io_in``, ``io_out``,
``mean_load``, ``cpu_time``; memory in MB). Its path mirrors the job's results,
so matching it against each rule's ``benchmark:`` pattern names the rule and
the wildcards.
"""

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from fmeval.errors import DataError

_WILDCARD = re.compile(r"\{(\w+)(?:,[^{}]*)?\}")


def pattern_regex(pattern: str) -> re.Pattern:
    """A regex for a Snakemake file pattern; each ``{wildcard}`` matches one path component."""
    out, pos, seen = [], 0, set()
    for m in _WILDCARD.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        name = m.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>[^/]+)")
        seen.add(name)
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out) + r"\Z")


def match_rule(path: str, patterns: Mapping[str, str]) -> tuple[str, str]:
    """``(rule, job)`` for a benchmark path; job is the wildcards as ``k=v, ...``.

    Paths that no pattern matches are named after their folder under ``benchmarks/``.
    """
    for rule, pattern in patterns.items():
        m = pattern_regex(pattern).match(path)
        if m:
            return rule, ", ".join(f"{k}={v}" for k, v in m.groupdict().items())
    parts = Path(path).parts
    return (parts[1] if len(parts) > 2 else "?"), str(Path(*parts[2:]).with_suffix("")) if len(
        parts
    ) > 2 else path


def find_benchmarks(root: str | os.PathLike) -> list[str]:
    """Every ``*.tsv`` below ``root``, sorted (none when ``root`` is absent)."""
    root = Path(root)
    return sorted(str(p) for p in root.rglob("*.tsv")) if root.is_dir() else []


def read_benchmarks(paths: Iterable[str], *, patterns: Mapping[str, str]) -> pd.DataFrame:
    """One row per benchmark file: rule, job, wall seconds, max RSS (MB), CPU seconds.

    Repeats (``benchmark: repeat(...)``) are averaged. An unreadable file is a
    :class:`DataError` naming it.
    """
    rows = []
    for path in paths:
        try:
            table = pd.read_csv(path, sep="\t")
        except (OSError, ValueError) as exc:
            raise DataError(
                f"benchmark file {path} is unreadable ({exc}); delete it and rerun its job"
            ) from exc
        if "s" not in table.columns or table.empty:
            raise DataError(
                f"benchmark file {path} has no `s` column or no rows; delete it and rerun its job"
            )
        rule, job = match_rule(path, patterns)
        num = table.apply(pd.to_numeric, errors="coerce")
        rows.append(
            {
                "rule": rule,
                "job": job,
                "wall_s": float(num["s"].mean()),
                "max_rss_mb": float(num["max_rss"].max()) if "max_rss" in num else float("nan"),
                "cpu_s": float(num["cpu_time"].mean()) if "cpu_time" in num else float("nan"),
                "mean_load": float(num["mean_load"].mean()) if "mean_load" in num else float("nan"),
                "path": path,
            }
        )
    columns = ["rule", "job", "wall_s", "max_rss_mb", "cpu_s", "mean_load", "path"]
    return pd.DataFrame(rows, columns=columns).sort_values(["rule", "job"], ignore_index=True)


def summarise_costs(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: job count, total and longest wall time, peak RSS, total CPU time."""
    if jobs.empty:
        return pd.DataFrame(
            columns=["rule", "jobs", "total_wall_s", "max_wall_s", "peak_rss_mb", "total_cpu_s"]
        )
    return (
        jobs.groupby("rule", sort=True)
        .agg(
            jobs=("job", "size"),
            total_wall_s=("wall_s", "sum"),
            max_wall_s=("wall_s", "max"),
            peak_rss_mb=("max_rss_mb", "max"),
            total_cpu_s=("cpu_s", "sum"),
        )
        .reset_index()
        .sort_values("total_wall_s", ascending=False, ignore_index=True)
    )
