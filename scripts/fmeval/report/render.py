"""The report page: one jinja2 template plus a CSS file, rendered from a small context.

:func:`build_report` reads what the stages wrote (their tables by known columns, their
figures as they are: the page draws nothing itself), builds the context of each section
(:mod:`fmeval.report.sections`), and writes one self-contained ``index.html`` (every image a
data URI, the CSS inline) beside ``ap.csv`` and ``ct.csv``.
"""

import base64
import json
import logging
import mimetypes
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2
import pandas as pd

from fmeval.branches import off_reasons
from fmeval.features.store import is_random_init
from fmeval.io.atomic import atomic_path
from fmeval.io.tables import read_meta
from fmeval.plots import RANDOM_BANNER, write_csv
from fmeval.report import costs, overview, runinfo
from fmeval.report.sections import SECTIONS, SectionFiles

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
# The rules whose jobs record the device they used, and the inputs that carry those records.
DEVICE_RECORDS = {
    "extract_features": "feature_files",
    "cross_validate_probe": "probe_summaries",
    "reconstruct_sinograms": "reconstruction_records",
}


def data_uri(path: str | os.PathLike) -> str:
    mime = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["data_uri"] = data_uri
    env.filters["seconds"] = lambda s: "–" if s != s else f"{s:,.0f} s ({s / 60:.1f} min)"
    return env


def render_page(context: Mapping) -> str:
    """The HTML page of a context (see :func:`page_context`)."""
    css = (TEMPLATES / "report.css").read_text()
    return environment().get_template("index.html.j2").render(css=css, **context)


def page_context(
    *,
    config: Mapping,
    inputs: Mapping[str, Sequence[str]],
    benchmark_root: str,
    benchmark_patterns: Mapping[str, str],
    rules: Sequence[str],
    workflow_dir: str,
) -> dict:
    """Everything the template shows, from the rule's named inputs."""
    manifests = [json.loads(Path(p).read_text()) for p in inputs.get("model_manifests", [])]
    off = off_reasons(config)  # issue 24: the branches this run left out, and why
    sections = []
    reasons = [
        f"model {m.get('key')} has random-initialised weights"
        for m in manifests
        if m.get("weights_id") == "random-init"
    ]
    patch_files = [
        p
        for p in inputs.get("feature_files", [])
        if p.endswith(".parquet") and not p.endswith(".cls.parquet")
    ]
    reasons += [
        f"features {p} were made with random weights" for p in patch_files if is_random_init(p)
    ]
    for section in SECTIONS:
        files = SectionFiles(
            list(inputs.get(f"{section.id}_tables", [])),
            list(inputs.get(f"{section.id}_figures", [])),
        )
        ctx = None if files.empty else section.context(files, config)
        if ctx:
            reasons += ctx["random_reasons"]
        sections.append(
            {
                "id": section.id,
                "title": section.title,
                "template": section.template,
                "s": ctx,
                "off": off.get(section.id),
            }
        )
    jobs = costs.read_benchmarks(costs.find_benchmarks(benchmark_root), patterns=benchmark_patterns)
    devices = runinfo.devices_used(
        {
            rule: [p for p in inputs.get(key, []) if not p.endswith(".cls.parquet")]
            for rule, key in DEVICE_RECORDS.items()
            if inputs.get(key)
        }
    )
    n_phantoms = (config.get("ct") or {}).get("n_phantoms")
    return {
        "banner": RANDOM_BANNER,
        "summary": overview.summary_context(
            manifests=manifests,
            devices=devices,
            jobs=jobs,
            workflow_dir=workflow_dir,
            random_reasons=reasons,
        ),
        "sections": sections,
        "cost": overview.cost_context(
            jobs,
            rules=rules,
            n_phantoms=n_phantoms,
            feature_metas=[read_meta(p) for p in patch_files if Path(p).is_file()],
        ),
        "config": overview.config_text(config),
    }


def build_report(
    *,
    config: Mapping,
    inputs: Mapping[str, Sequence[str]],
    benchmark_root: str,
    benchmark_patterns: Mapping[str, str],
    rules: Sequence[str] = (),
    workflow_dir: str | None = None,
    html: str,
    ap: str,
    ct: str,
) -> None:
    """Rule ``build_report``: ``index.html``, and ``ap.csv`` and ``ct.csv`` (the stages' AP
    and CT tables, or a one-row note when the stage did not run, e.g. its branch is off:
    they never make a branch run).
    """
    context = page_context(
        config=config,
        inputs=inputs,
        benchmark_root=benchmark_root,
        benchmark_patterns=benchmark_patterns,
        rules=rules,
        workflow_dir=workflow_dir or str(runinfo.workflow_root()),
    )
    off = off_reasons(config)
    for out, section, name in ((ap, "segmentation", "ap.csv"), (ct, "ct", "ct.csv")):
        tables = [p for p in inputs.get(f"{section}_tables", []) if Path(p).name == name]
        note = off.get(section, f"no {section} results in this run")
        table = pd.read_csv(tables[0]) if tables else pd.DataFrame({"note": [note]})
        write_csv(table, out)
    page = render_page(context)
    with atomic_path(html, suffix=".html") as tmp:
        tmp.write_text(page)
    if context["summary"]["random_reasons"]:
        log.warning("random weights: %s", "; ".join(context["summary"]["random_reasons"]))
    log.info("wrote %s (%d KiB)", html, len(page) // 1024)
