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
from fmeval.io.reading import reading

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
    """One row per benchmark file: rule, job, stage (its folder under ``benchmarks/``), wall
    seconds, max RSS (MB), CPU seconds, mean load, the end time (the file's mtime) and the
    job's wildcards.

    Repeats (``benchmark: repeat(...)``) are averaged. An unreadable file is a
    :class:`DataError` naming it.
    """
    rows = []
    for path in paths:
        with reading(path, what="benchmark file", fix="delete it and rerun its job"):
            table = pd.read_csv(path, sep="\t")
        missing = [c for c in BENCHMARK_COLUMNS if c not in table.columns]
        if missing or table.empty:
            raise DataError(
                f"benchmark file {path} lacks the column(s) {missing} or has no rows; "
                "delete it and rerun its job"
            )
        rule, job = match_rule(path, patterns)
        num = table[list(BENCHMARK_COLUMNS)].apply(pd.to_numeric, errors="coerce")
        parts = Path(path).parts
        rows.append(
            {
                "rule": rule,
                "job": job,
                "stage": parts[1] if len(parts) > 2 else "",
                "wall_s": float(num["s"].mean()),
                "max_rss_mb": float(num["max_rss"].max()),
                "cpu_s": float(num["cpu_time"].mean()),
                "mean_load": float(num["mean_load"].mean()),
                "end": os.path.getmtime(path),
                "path": path,
            }
        )
    columns = ["rule", "job", "stage", "wall_s", "max_rss_mb", "cpu_s", "mean_load", "end", "path"]
    return pd.DataFrame(rows, columns=columns).sort_values(["rule", "job"], ignore_index=True)


BENCHMARK_COLUMNS = ("s", "max_rss", "mean_load", "cpu_time")

COLUMN_NOTES = {
    "rule": "The Snakemake rule; every rule of the workflow has a row, run or not.",
    "jobs": "How many of its jobs left a benchmark file (one job per wildcard combination).",
    "total_wall_s": "Wall-clock seconds summed over its jobs (jobs may have run in parallel).",
    "max_wall_s": "Wall-clock seconds of its longest job.",
    "peak_rss_mb": "The largest resident memory (RSS) of any of its jobs, in MB.",
    "total_cpu_s": "CPU seconds (user + system) summed over its jobs; above the wall time "
    "when a job used several cores.",
    "images_per_s": "Feature extraction: the images of the job's (dataset, model, res) over its "
    "wall seconds, model building and writing included (the job's log has the rate of the "
    "embedding alone).",
    "mean_load": "Average CPU load of its jobs (each job and its child processes, time-weighted "
    "psutil cpu_percent): 100 is one busy core, 200 two.",
}


def summarise_costs(jobs: pd.DataFrame, *, rules: Iterable[str] = ()) -> pd.DataFrame:
    """Per rule: job count, total and longest wall time, peak RSS, total CPU time, mean load.

    Every name in ``rules`` gets a row, with 0 jobs when it left no benchmark file.
    """
    summary = (
        jobs.groupby("rule", sort=True)
        .agg(
            jobs=("job", "size"),
            total_wall_s=("wall_s", "sum"),
            max_wall_s=("wall_s", "max"),
            peak_rss_mb=("max_rss_mb", "max"),
            total_cpu_s=("cpu_s", "sum"),
            mean_load=("mean_load", "mean"),
        )
        .reindex(sorted(set(jobs["rule"]) | set(rules)))
    )
    summary["jobs"] = summary["jobs"].fillna(0).astype(int)
    summary.index.name = "rule"
    return summary.reset_index().sort_values(
        ["total_wall_s", "rule"], ascending=[False, True], ignore_index=True, na_position="last"
    )


def job_wildcards(job: str) -> dict[str, str]:
    """The wildcards of a job named ``k=v, k=v``."""
    return dict(part.split("=", 1) for part in job.split(", ") if "=" in part)


def method_costs(jobs: pd.DataFrame, *, rule: str, n_items: int) -> pd.DataFrame:
    """Per ``method`` wildcard of ``rule``'s jobs: jobs, total and mean wall time per job,
    wall seconds per item (e.g. per phantom), peak RSS.
    """
    part = jobs[jobs["rule"] == rule]
    methods = part["job"].map(lambda j: job_wildcards(j).get("method", "?"))
    table = (
        part.assign(method=methods)
        .groupby("method", sort=True)
        .agg(
            jobs=("job", "size"),
            total_wall_s=("wall_s", "sum"),
            mean_wall_s=("wall_s", "mean"),
            peak_rss_mb=("max_rss_mb", "max"),
        )
        .reset_index()
    )
    table["wall_s_per_item"] = table["mean_wall_s"] / max(n_items, 1)
    return table


def stage_times(jobs: pd.DataFrame) -> pd.DataFrame:
    """Wall time per stage (the folder under ``benchmarks/``), summed over its jobs."""
    return (
        jobs.groupby("stage", sort=True)
        .agg(jobs=("job", "size"), wall_s=("wall_s", "sum"))
        .reset_index()
        .sort_values("wall_s", ascending=False, ignore_index=True)
    )


def elapsed_s(jobs: pd.DataFrame) -> float:
    """Seconds from the start of the first job to the end of the last (benchmark files are
    written when their job ends).
    """
    if jobs.empty:
        return float("nan")
    return float(jobs["end"].max() - (jobs["end"] - jobs["wall_s"]).min())


EXTRACTION_RULES = ("extract_features", "extract_features_variant")
_CELL_KEYS = ("dataset", "model", "res", "transform", "tap")


def _cell(values: Mapping) -> tuple:
    """A feature cell's identity: (dataset, model, res[, transform, tap]) as strings."""
    return tuple(None if values.get(k) is None else str(values[k]) for k in _CELL_KEYS)


def extraction_rates(jobs: pd.DataFrame, feature_metas: Iterable[Mapping]) -> pd.DataFrame:
    """Images/s of each extraction job: the images of its cell (the ``grids`` of its feature
    file's metadata) over the job's wall seconds (everything the job did: building the
    model, planning, embedding, writing). A job whose file is gone has no row.
    """
    images = {_cell(meta): len(meta.get("grids") or {}) for meta in feature_metas}
    rows = []
    for job in jobs[jobs["rule"].isin(EXTRACTION_RULES)].itertuples():
        n = images.get(_cell(job_wildcards(job.job)))
        if n:
            rate = n / job.wall_s if job.wall_s > 0 else float("nan")
            rows.append({"rule": job.rule, "job": job.job, "images": n, "wall_s": job.wall_s})
            rows[-1]["images_per_s"] = rate
    columns = ["rule", "job", "images", "wall_s", "images_per_s"]
    return pd.DataFrame(rows, columns=columns)
