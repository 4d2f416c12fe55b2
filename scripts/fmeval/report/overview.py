"""The page's fixed sections: the run summary (first), the cost (after the results) and the
config (last).
"""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pandas as pd
import yaml

from fmeval.report import costs, runinfo
from fmeval.report.tables import Cell, Table, fmt, html_table

MODEL_KEYS = ("key", "backend", "name", "patch_size", "weights", "weights_id")
# issue 28: what the fetch record says of the model's family (fmeval.features.families)
FAMILY_KEYS = ("family", "embedding_text", "native_res", "input_mean", "input_std")
FAMILY_KEYS += ("attention_maps",)


def family_row(m: Mapping) -> dict:
    """The family facts of one fetch record, as the report's model table shows them."""
    if "family" not in m:  # a manifest fetched before issue 28
        return dict.fromkeys(FAMILY_KEYS, "–")
    mean, std = (", ".join(f"{v:.4g}" for v in m[k]) for k in ("input_mean", "input_std"))
    return {
        "family": m["family"],
        "embedding_text": m["embedding_text"],
        "native_res": f"{m['native_res']} px" if m.get("native_res") else "–",
        "input_mean": mean,
        "input_std": std,
        "attention_maps": m.get("attention_maps") or "available",
    }


def summary_context(
    *,
    manifests: Sequence[Mapping],
    devices: list[dict],
    jobs: pd.DataFrame,
    workflow_dir: str,
    random_reasons: Sequence[str],
) -> dict:
    """What ``sections/summary.html.j2`` shows."""
    stages = costs.stage_times(jobs)
    models = pd.DataFrame(
        [{**{k: m.get(k, "–") for k in MODEL_KEYS}, **family_row(m)} for m in manifests],
        columns=[*MODEL_KEYS, *FAMILY_KEYS],
    )
    return {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "host": runinfo.host(),
        "version": runinfo.pipeline_version(),
        "commit": runinfo.git_commit(workflow_dir),
        "devices": html_table(
            "devices",
            pd.DataFrame(devices, columns=["rule", "device", "jobs"]),
            _cols("rule", "device", "jobs"),
        ),
        "device_names": sorted({d["device"] for d in devices}),
        "total_job_s": float(jobs["wall_s"].sum()),
        "elapsed_s": costs.elapsed_s(jobs),
        "stages": html_table(
            "stage-times",
            stages,
            [
                ("stage", "stage"),
                ("jobs", "jobs"),
                ("wall time (s, summed over jobs)", lambda r: Cell(fmt(r["wall_s"], 1), "num")),
            ],
        ),
        "models": html_table(
            "models",
            models,
            [
                ("model", "key"),
                ("backend", "backend"),
                ("name", "name"),
                ("patch size", "patch_size"),
                ("weights", "weights"),
                ("weights identity", "weights_id"),
                ("family", "family"),
                ("image embedding", "embedding_text"),
                ("native resolution", "native_res"),
                ("input mean", "input_mean"),
                ("input std", "input_std"),
                ("CLS attention maps", "attention_maps"),
            ],
        ),
        "random_reasons": list(random_reasons),
        "libraries": runinfo.library_versions(),
    }


def _cols(*names: str) -> list:
    return [(n, n) for n in names]


def cost_context(
    jobs: pd.DataFrame,
    *,
    rules: Sequence[str],
    n_phantoms: int | None,
    feature_metas: Sequence[Mapping] = (),
) -> dict:
    """What ``sections/cost.html.j2`` shows: a row per rule, CT time per method, images/s per
    extraction job (``feature_metas``: the feature files' metadata), per job."""
    summary = costs.summarise_costs(jobs, rules=rules)
    rule_table = _cost_table("cost-rules", summary, RULE_COLUMNS)
    for row in rule_table.rows:
        if row.cells[1].text == "0":
            row.cls = "no-jobs"
    methods = None
    if n_phantoms and (jobs["rule"] == "reconstruct_sinograms").any():
        per_method = costs.method_costs(jobs, rule="reconstruct_sinograms", n_items=n_phantoms)
        headers = {
            "jobs": "jobs (views × noise)",
            "mean_wall_s": "mean_wall_s per job",
            "wall_s_per_item": f"wall_s per phantom (of {n_phantoms})",
        }
        methods = _cost_table("cost-ct-methods", per_method, METHOD_COLUMNS, headers)
    job_table = _cost_table("cost-jobs", jobs, JOB_COLUMNS)
    rates = costs.extraction_rates(jobs, feature_metas)
    extraction = _cost_table("cost-extraction", rates, EXTRACTION_COLUMNS) if len(rates) else None
    return {
        "rules": rule_table,
        "methods": methods,
        "extraction": extraction,
        "jobs": job_table,
        "notes": costs.COLUMN_NOTES,
        "missing": [r for r in summary["rule"] if not summary.set_index("rule").loc[r, "jobs"]],
    }


def _number(column: str, digits: int):
    return lambda r: Cell(fmt(float(r[column]), digits), "num")


# the columns of each cost table and their decimals (None: shown as they are)
RULE_COLUMNS = {
    "rule": None,
    "jobs": None,
    "total_wall_s": 1,
    "max_wall_s": 1,
    "peak_rss_mb": 0,
    "total_cpu_s": 1,
    "mean_load": 0,
}
METHOD_COLUMNS = {
    "method": None,
    "jobs": None,
    "total_wall_s": 1,
    "mean_wall_s": 1,
    "wall_s_per_item": 2,
    "peak_rss_mb": 0,
}
EXTRACTION_COLUMNS = {"rule": None, "job": None, "images": None, "wall_s": 1, "images_per_s": 2}
JOB_COLUMNS = {"rule": None, "job": None, "wall_s": 1, "max_rss_mb": 0, "cpu_s": 1, "mean_load": 0}


def _cost_table(
    id: str,
    frame: pd.DataFrame,
    digits: Mapping[str, int | None],
    headers: Mapping[str, str] | None = None,
) -> Table:
    """A cost table of ``frame``'s columns in ``digits``, headed by their names or ``headers``;
    its rows are never marked random (costs are not results)."""
    columns = [
        ((headers or {}).get(c, c), c if d is None else _number(c, d)) for c, d in digits.items()
    ]
    return html_table(id, frame, columns, random_rows=False)


def config_text(config: Mapping) -> str:
    """The config as YAML, in the order it was given."""
    return yaml.safe_dump(json.loads(json.dumps(config, default=str)), sort_keys=False)
