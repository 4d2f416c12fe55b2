"""The aggregated report: one self-contained HTML page, its CSV tables and plots.

The page reads what the stages left in ``results/report/<stage>/`` (CSV tables and
figures), the model manifests and the ``benchmark:`` files; every image is
embedded as a data URI, so the page needs no network and no other file. A stage
that produced nothing gets a short note instead of its section.
"""

import base64
import html
import io
import json
import logging
import math
import mimetypes
import os
import platform
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from fmeval.errors import DataError
from fmeval.features.store import is_random_init
from fmeval.io.atomic import atomic_dir, atomic_path
from fmeval.report.costs import find_benchmarks, read_benchmarks, summarise_costs

log = logging.getLogger(__name__)

LIBRARIES = (
    "fmeval",
    "snakemake",
    "snakemake-executor-plugin-slurm",
    "torch",
    "torchvision",
    "timm",
    "deepinv",
    "dival",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scikit-image",
    "matplotlib",
)
RANDOM_BANNER = "RANDOM WEIGHTS: not a real result"


# --------------------------------------------------------------------------- tables


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV table; leading ``#`` comment lines (banners) are skipped."""
    try:
        with open(path) as fh:
            lines = fh.readlines()
    except OSError as exc:
        raise DataError(
            f"report table {path} is unreadable ({exc}); rerun the stage that makes it"
        ) from exc
    skip = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    body = lines[skip:]
    if not "".join(body).strip():
        return pd.DataFrame()
    return pd.read_csv(io.StringIO("".join(body)), float_precision="round_trip")


def find_column(table: pd.DataFrame, *names: str) -> str | None:
    """The first column of ``table`` whose lower-cased name is one of ``names``."""
    lower = {c.lower(): c for c in table.columns}
    return next((lower[n.lower()] for n in names if n.lower() in lower), None)


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "random", "random-init"}
    try:
        return bool(value) and not (isinstance(value, float) and math.isnan(value))
    except (TypeError, ValueError):
        return False


def random_weight_sources(
    *, tables: Mapping[str, pd.DataFrame], manifests: Sequence[Mapping], config: Mapping
) -> list[str]:
    """Why this run's results are not real: every model, table or setting that used
    random weights.
    """
    reasons = []
    for m in manifests:
        if m.get("weights") == "random" or m.get("weights_id") == "random-init":
            reasons.append(f"model {m.get('key', '?')} has random-initialised weights")
    for name, table in tables.items():
        col = find_column(table, "random_init")
        wcol = find_column(table, "weights", "weights_id")
        if (col and table[col].map(_truthy).any()) or (
            wcol and table[wcol].astype(str).str.contains("random", case=False).any()
        ):
            reasons.append(f"table {name} has rows made with random weights")
    ram = ((config.get("ct") or {}).get("ram") or {}).get("weights")
    if ram == "random":
        reasons.append("ct.ram.weights is `random`")
    return reasons


def flag_random(table: pd.DataFrame, random_init: bool) -> pd.DataFrame:
    """``table`` with a ``random_init`` column (kept when present)."""
    if table.empty or find_column(table, "random_init"):
        return table
    return table.assign(random_init=random_init)


def write_csv(table: pd.DataFrame, path: str | os.PathLike, *, empty_note: str) -> None:
    """Write ``table`` atomically; an empty table becomes a one-row ``note`` table."""
    if table.empty:
        table = pd.DataFrame({"note": [empty_note]})
    with atomic_path(path, suffix=".csv") as tmp:
        table.to_csv(tmp, index=False)


def _fmt(mean: float, spread: float | None = None, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.{digits}f}"
    if spread is not None and not (isinstance(spread, float) and math.isnan(spread)):
        text += f" ± {spread:.{digits}f}"
    return text


# --------------------------------------------------------------------------- segmentation


def ap_columns(ap: pd.DataFrame) -> dict[str, str | None]:
    """The columns of a segmentation AP table, whatever their exact names."""
    return {
        "dataset": find_column(ap, "dataset"),
        "model": find_column(ap, "model"),
        "res": find_column(ap, "res", "resolution"),
        "C": find_column(ap, "C", "best_c", "best_C"),
        "mean": find_column(ap, "mean_ap", "ap_mean", "mean", "ap"),
        "sd": find_column(ap, "sd_ap", "ap_sd", "sd", "std", "std_ap"),
        "n": find_column(ap, "n_folds", "folds", "n"),
    }


def best_ap(ap: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, model, res): the C with the highest mean AP."""
    c = ap_columns(ap)
    if ap.empty or not (c["model"] and c["res"] and c["mean"]):
        return pd.DataFrame()
    keys = [k for k in (c["dataset"], c["model"], c["res"]) if k]
    idx = ap.groupby(keys, sort=True)[c["mean"]].idxmax()
    return ap.loc[idx.values].reset_index(drop=True)


def ap_matrix(best: pd.DataFrame) -> pd.DataFrame:
    """Best AP (mean ± sd, best C) with a row per (dataset,) model and a column per resolution."""
    c = ap_columns(best)
    if best.empty or not (c["model"] and c["res"] and c["mean"]):
        return pd.DataFrame()
    rows = [k for k in (c["dataset"], c["model"]) if k]

    def cell(r) -> str:
        text = _fmt(r[c["mean"]], r[c["sd"]] if c["sd"] else None)
        return f"{text} (C={r[c['C']]:g})" if c["C"] else text

    table = best.assign(_cell=best.apply(cell, axis=1))
    wide = table.pivot_table(index=rows, columns=c["res"], values="_cell", aggfunc="first")
    wide.columns = [f"res {col}" for col in wide.columns]
    return wide.reset_index()


def plot_ap_vs_c(ap: pd.DataFrame, stem: Path, *, random_init: bool) -> list[Path]:
    """AP vs C (log x), one line per (model, res), error bars ± sd."""
    c = ap_columns(ap)
    if ap.empty or not (c["model"] and c["res"] and c["C"] and c["mean"]):
        return []
    keys = [k for k in (c["dataset"], c["model"], c["res"]) if k]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, part in ap.sort_values(c["C"]).groupby(keys, sort=True):
        label = " ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        ax.errorbar(
            part[c["C"]],
            part[c["mean"]],
            yerr=part[c["sd"]] if c["sd"] else None,
            marker="o",
            capsize=3,
            label=label,
        )
    ax.set(
        xscale="log",
        xlabel="C (inverse regularisation)",
        ylabel="mean AP over folds",
        title="Probe AP vs C",
    )
    ax.legend(fontsize="small")
    return save_figure(fig, stem, random_init=random_init)


def plot_test_scores(scores: pd.DataFrame, stem: Path, *, random_init: bool) -> list[Path]:
    """Held-out test AP and IoU per image, one bar group per (model, res)."""
    metrics = [m for m in (find_column(scores, "ap"), find_column(scores, "iou")) if m]
    image = find_column(scores, "image", "name")
    if scores.empty or not metrics or not image:
        return []
    keys = [k for k in (find_column(scores, "model"), find_column(scores, "res")) if k]
    labels = (
        scores[keys + [image]].astype(str).agg(" ".join, axis=1)
        if keys
        else scores[image].astype(str)
    )
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4 + 0.5 * len(scores) * len(metrics), 4), squeeze=False
    )
    for ax, metric in zip(axes[0], metrics):
        ax.bar(range(len(scores)), pd.to_numeric(scores[metric], errors="coerce"))
        ax.set_xticks(range(len(scores)), labels, rotation=45, ha="right", fontsize="small")
        ax.set(ylim=(0, 1), ylabel=metric, title=f"held-out test {metric}")
    return save_figure(fig, stem, random_init=random_init)


# --------------------------------------------------------------------------- CT


def ct_long(ct: pd.DataFrame) -> pd.DataFrame:
    """A CT table as long rows: method, views, noise, metric, mean, sd, lo, hi, n.

    Accepts a long table (a ``metric`` column with ``mean``, ``sd`` and ``ci_low``/``ci_high``
    or a ``ci95`` half-width) or a wide one (``psnr_mean``, ``psnr_ci_low``, ...).
    """
    method, views, noise = (find_column(ct, n) for n in ("method", "views", "noise"))
    if ct.empty or not (method and views):
        return pd.DataFrame()
    metric_col = find_column(ct, "metric")
    if metric_col:
        groups = [(str(m), ct[ct[metric_col] == m], "") for m in ct[metric_col].unique()]
    else:
        groups = [
            (m, ct, f"{m}_")
            for m in ("psnr", "ssim")
            if any(c.lower().startswith(m) for c in ct.columns)
        ]
    parts = []
    for name, sub, prefix in groups:
        mean = _stat(sub, prefix, "mean", "")
        if mean is None:
            continue
        lo = _stat(sub, prefix, "ci_low", "ci95_low", "ci_lo", "lo", "low")
        hi = _stat(sub, prefix, "ci_high", "ci95_high", "ci_hi", "hi", "high")
        half = _stat(sub, prefix, "ci95", "ci", "ci_half", "ci95_half")
        if lo is None and half is not None:
            lo, hi = mean - half, mean + half
        sd, n = _stat(sub, prefix, "sd", "std"), _stat(sub, prefix, "n", "count")
        nan = pd.Series(float("nan"), index=sub.index)
        parts.append(
            pd.DataFrame(
                {
                    "method": sub[method].astype(str),
                    "views": pd.to_numeric(sub[views]).astype(int),
                    "noise": sub[noise].astype(str) if noise else "–",
                    "metric": name.upper() if name.lower() in ("psnr", "ssim") else name,
                    "mean": mean,
                    "sd": nan if sd is None else sd,
                    "lo": nan if lo is None else lo,
                    "hi": nan if hi is None else hi,
                    "n": nan if n is None else n,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _stat(table: pd.DataFrame, prefix: str, *names: str) -> pd.Series | None:
    for name in names:
        col = find_column(table, f"{prefix}{name}".rstrip("_"))
        if col:
            return pd.to_numeric(table[col], errors="coerce")
    return None


def ct_matrix(long: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One metric as a table: a row per (noise, method), a column per view count, mean ± 95% CI
    half-width.
    """
    part = long[long["metric"] == metric]
    if part.empty:
        return pd.DataFrame()
    digits = 2 if metric == "PSNR" else 3
    cells = part.assign(
        _cell=[
            _fmt(m, (h - lo) / 2, digits) for m, lo, h in zip(part["mean"], part["lo"], part["hi"])
        ]
    )
    wide = cells.pivot_table(
        index=["noise", "method"], columns="views", values="_cell", aggfunc="first"
    )
    wide = wide[sorted(wide.columns, reverse=True)]
    wide.columns = [f"{v} views" for v in wide.columns]
    return wide.reset_index()


def plot_ct_curves(long: pd.DataFrame, metric: str, stem: Path, *, random_init: bool) -> list[Path]:
    """``metric`` vs views (log x): one panel per noise level, one line per method, 95% CI band."""
    part = long[long["metric"] == metric]
    if part.empty:
        return []
    noises = list(dict.fromkeys(part["noise"]))
    fig, axes = plt.subplots(
        1, len(noises), figsize=(4.5 * len(noises), 4), squeeze=False, sharey=True
    )
    for ax, noise in zip(axes[0], noises):
        for method, line in (
            part[part["noise"] == noise].sort_values("views").groupby("method", sort=True)
        ):
            ax.plot(line["views"], line["mean"], marker="o", label=method)
            if line["lo"].notna().all():
                ax.fill_between(line["views"], line["lo"], line["hi"], alpha=0.2)
        ax.set(xscale="log", xlabel="views", title=f"noise: {noise}")
        ax.legend(fontsize="small")
    axes[0][0].set_ylabel(f"{metric} (mean, 95% CI)")
    return save_figure(fig, stem, random_init=random_init)


# --------------------------------------------------------------------------- costs


def plot_costs(summary: pd.DataFrame, stem: Path) -> list[Path]:
    """Total wall time and peak memory per rule."""
    if summary.empty:
        return []
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 0.5 * len(summary) + 2))
    a.barh(summary["rule"], summary["total_wall_s"])
    a.set(xlabel="total wall time (s)", title="wall time per rule")
    b.barh(summary["rule"], summary["peak_rss_mb"])
    b.set(xlabel="peak RSS (MB)", title="memory per rule")
    b.set_yticklabels([])
    a.invert_yaxis()
    b.invert_yaxis()
    return save_figure(fig, stem, random_init=False)


# --------------------------------------------------------------------------- figures and HTML


def save_figure(fig: plt.Figure, stem: Path, *, random_init: bool) -> list[Path]:
    """Save ``fig`` as ``stem``.png and ``stem``.svg (atomically), with the banner when random."""
    if random_init:
        fig.suptitle(RANDOM_BANNER, color="#b00020", fontweight="bold")
    fig.tight_layout()
    out = []
    for ext in ("png", "svg"):
        path = stem.with_suffix(f".{ext}")
        with atomic_path(path, suffix=f".{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=110)
        out.append(path)
    plt.close(fig)
    return out


def data_uri(path: str | os.PathLike) -> str:
    mime = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"


def figure_html(path: str | os.PathLike, caption: str) -> str:
    return (
        f'<figure><img src="{data_uri(path)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def table_html(table: pd.DataFrame, table_id: str, *, floats: int = 4) -> str:
    if table.empty:
        return f'<p class="note" id="{table_id}-empty">No rows.</p>'
    return table.to_html(
        index=False,
        table_id=table_id,
        classes="data",
        border=0,
        na_rep="–",
        float_format=lambda x: f"{x:.{floats}g}",
    )


GALLERY_TITLES = {
    "segment": "Test-image segmentations (image, score, mask)",
    "pca": "PCA and CLS-similarity renders",
    "attention": "CLS attention maps",
    "report": "Stage plots",
}


def gallery(paths: Sequence[str], *, root: str | os.PathLike = "results") -> str:
    """The images in ``paths``, grouped by their folder under ``root`` (e.g. results/pca/...)."""
    images = [
        p
        for p in paths
        if Path(p).suffix.lower() in {".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp"}
    ]
    if not images:
        return '<p class="note">No images.</p>'
    groups: dict[str, list[str]] = {}
    for p in images:
        rel = os.path.relpath(p, root)
        groups.setdefault(Path(rel).parts[0] if len(Path(rel).parts) > 1 else "", []).append(p)
    out = []
    for kind, members in groups.items():
        if len(groups) > 1 or kind:
            out.append(f"<h4>{html.escape(GALLERY_TITLES.get(kind, kind or 'Images'))}</h4>")
        out.append(
            '<div class="gallery">'
            + "".join(figure_html(p, os.path.relpath(p, root)) for p in members)
            + "</div>"
        )
    return "".join(out)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0
auto;max-width:1200px;padding:1em 2em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
nav a{margin-right:1em}
.banner{background:#b00020;color:#fff;padding:1em
1.5em;font-size:1.2em;font-weight:bold;border-radius:6px;margin:1em 0}
.banner ul{font-size:.8em;font-weight:normal;margin:.5em 0 0}
.note{color:#666;font-style:italic}
table.data{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
table.data th,table.data td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
table.data th{background:#f3f3f3}
table.data td:first-child,table.data th:first-child{text-align:left}
.gallery{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0 0 1em;max-width:100%} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.8em;color:#555}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.85em;max-height:30em}
"""


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>'


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def build_report(
    *,
    config: Mapping,
    model_manifests: Sequence[str],
    feature_files: Sequence[str] = (),
    segmentation_tables: Sequence[str],
    segmentation_figures: Sequence[str],
    ct_tables: Sequence[str],
    ct_figures: Sequence[str],
    video_tables: Sequence[str] = (),
    video_figures: Sequence[str] = (),
    benchmark_root: str,
    benchmark_patterns: Mapping[str, str],
    html_out: str,
    ap_out: str,
    ct_out: str,
    figures_dir: str,
) -> None:
    """Write the report page, ``ap.csv``, ``ct.csv`` and the report's own plots (PNG and SVG)."""
    manifests = [json.loads(Path(p).read_text()) for p in model_manifests]
    seg = {Path(p).name: read_csv(p) for p in segmentation_tables}
    ct = {Path(p).name: read_csv(p) for p in ct_tables}
    seg_reasons = random_weight_sources(
        tables={f"segmentation/{k}": v for k, v in seg.items()}, manifests=manifests, config={}
    )
    seg_reasons += [
        f"features {p} were made with random weights" for p in feature_files if is_random_init(p)
    ]
    ct_reasons = random_weight_sources(
        tables={f"ct/{k}": v for k, v in ct.items()}, manifests=[], config=config
    )
    video = {Path(p).name: read_csv(p) for p in video_tables}
    video_reasons = random_weight_sources(
        tables={f"video/{k}": v for k, v in video.items()}, manifests=[], config={}
    )
    reasons = seg_reasons + ct_reasons + video_reasons
    random_init = bool(reasons)
    if random_init:
        log.warning("random weights: %s", "; ".join(reasons))

    figures = Path(figures_dir)
    with atomic_dir(figures) as tmp_fig:
        body = [
            summary_section(config=config, manifests=manifests, reasons=reasons),
            segmentation_section(
                seg, segmentation_figures, tmp_fig, random_init=bool(seg_reasons), ap_out=ap_out
            ),
            ct_section(ct, ct_figures, tmp_fig, random_init=bool(ct_reasons), ct_out=ct_out),
            video_section(video, video_figures),
            cost_section(benchmark_root, benchmark_patterns, tmp_fig),
        ]
    page = render_page(body, random_init=random_init, reasons=reasons)
    with atomic_path(html_out, suffix=".html") as tmp:
        tmp.write_text(page)
    log.info("wrote %s (%d KiB)", html_out, len(page) // 1024)


def summary_section(
    *, config: Mapping, manifests: Sequence[Mapping], reasons: Sequence[str]
) -> str:
    models = pd.DataFrame(
        [
            {
                "model": m.get("key"),
                "backend": m.get("backend"),
                "name": m.get("name"),
                "patch size": m.get("patch_size"),
                "weights": m.get("weights"),
                "weights identity": m.get("weights_id"),
                "weights file": m.get("weights_file") or "–",
            }
            for m in manifests
        ]
    )
    versions = pd.DataFrame(list(library_versions().items()), columns=["library", "version"])
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    status = (
        f'<p id="weights-status"><strong>Random weights were used</strong> ({len(reasons)} '
        "sources, see the banner).</p>"
        if reasons
        else '<p id="weights-status">All models use real (pretrained or local) weights.</p>'
    )
    body = (
        f'<p>Generated <span id="report-date">{date}</span> on {html.escape(platform.node())}.</p>'
        + status
        + "<h3>Models</h3>"
        + table_html(models, "models")
        + "<h3>Library versions</h3>"
        + table_html(versions, "versions")
        + '<h3>Config</h3><pre id="config">'
        + html.escape(yaml.safe_dump(json.loads(json.dumps(config, default=str)), sort_keys=False))
        + "</pre>"
    )
    return _section("summary", "Run summary", body)


def stage_or_own(figure_paths: list[str], name: str, draw) -> str:
    """The stage's own ``name`` figure (taken out of ``figure_paths``), else the one ``draw()``
    makes.

    Stages draw their main plots themselves; the report draws them from the CSV only
    when a stage left them out, so no curve appears twice.
    """
    own = next((p for p in figure_paths if Path(p).name == name), None)
    if own is not None:
        figure_paths.remove(own)
        return figure_html(own, os.path.relpath(own, "results"))
    return "".join(
        figure_html(p, Path(name).stem.replace("_", " ")) for p in draw() if p.suffix == ".png"
    )


def segmentation_section(
    seg: Mapping[str, pd.DataFrame],
    figure_paths: Sequence[str],
    fig_dir: Path,
    *,
    random_init: bool,
    ap_out: str,
) -> str:
    figure_paths = list(figure_paths)
    ap = seg.get("ap.csv", pd.DataFrame())
    best = seg.get("ap_best.csv")
    if best is None or best.empty:
        best = best_ap(ap)
    scores = seg.get("test_scores.csv", pd.DataFrame())
    write_csv(
        flag_random(ap, random_init), ap_out, empty_note="no segmentation results in this run"
    )
    if not seg and not figure_paths:
        return _section(
            "segmentation", "Segmentation", _note("No segmentation results in this run.")
        )
    parts = [
        "<h3>Best AP by model × resolution</h3>",
        "<p>Mean ± sd of the per-fold AP (leave-one-image-out) at the best C of the grid.</p>",
        table_html(ap_matrix(best), "ap-best"),
    ]
    parts += [
        "<h3>AP vs C</h3>",
        stage_or_own(
            figure_paths,
            "ap_vs_c.png",
            lambda: plot_ap_vs_c(ap, fig_dir / "ap_vs_c", random_init=random_init),
        ),
    ]
    parts += ["<h3>Held-out test images</h3>", table_html(scores, "test-scores")]
    plots = plot_test_scores(scores, fig_dir / "test_scores", random_init=random_init)
    parts += [figure_html(p, "held-out test AP and IoU") for p in plots if p.suffix == ".png"]
    parts += ["<h3>AP per C (all folds)</h3>", table_html(ap, "ap")]
    for name, table in seg.items():
        if name not in {"ap.csv", "ap_best.csv", "test_scores.csv"}:
            parts += [f"<h3>{html.escape(name)}</h3>", table_html(table, f"seg-{Path(name).stem}")]
    parts += ["<h3>Segmentations, PCA renders and other plots</h3>", gallery(figure_paths)]
    return _section("segmentation", "Segmentation", "".join(parts))


def ct_section(
    ct: Mapping[str, pd.DataFrame],
    figure_paths: Sequence[str],
    fig_dir: Path,
    *,
    random_init: bool,
    ct_out: str,
) -> str:
    figure_paths = list(figure_paths)
    table = ct.get("ct.csv", pd.DataFrame())
    write_csv(flag_random(table, random_init), ct_out, empty_note="no CT results in this run")
    if not ct and not figure_paths:
        return _section("ct", "CT reconstruction", _note("No CT results in this run."))
    long = ct_long(table)
    parts = ["<p>Mean over phantoms ± half-width of the 95% confidence interval.</p>"]
    for metric in ("PSNR", "SSIM"):
        parts += [
            f"<h3>{metric}</h3>",
            table_html(ct_matrix(long, metric) if not long.empty else long, f"ct-{metric.lower()}"),
        ]
        stem = f"{metric.lower()}_vs_views"
        parts.append(
            stage_or_own(
                figure_paths,
                f"{stem}.png",
                lambda metric=metric, stem=stem: plot_ct_curves(
                    long, metric, fig_dir / f"ct_{stem}", random_init=random_init
                ),
            )
        )
    for name, extra in ct.items():
        if name != "ct.csv":
            parts += [f"<h3>{html.escape(name)}</h3>", table_html(extra, f"ct-{Path(name).stem}")]
    parts += ["<h3>Example reconstructions and other plots</h3>", gallery(figure_paths)]
    return _section("ct", "CT reconstruction", "".join(parts))


def video_section(video: Mapping[str, pd.DataFrame], figure_paths: Sequence[str]) -> str:
    """The video branch's own tables and figures (rule report_video), shown as they are."""
    if not video:
        return _section("video", "Video segmentation", _note("No video results in this run."))
    parts = [
        "<p>J&amp;F = (J + F) / 2 per sequence (DAVIS: mean over objects and frames, first and "
        "last frames not scored), by model @ resolution and method.</p>",
        table_html(video.get("jf.csv", pd.DataFrame()), "video-jf"),
        gallery([p for p in figure_paths if p.endswith(".png")]),
    ]
    return _section("video", "Video segmentation", "".join(parts))


def cost_section(root: str, patterns: Mapping[str, str], fig_dir: Path) -> str:
    jobs = read_benchmarks(find_benchmarks(root), patterns=patterns)
    if jobs.empty:
        return _section("cost", "Cost", _note(f"No benchmark files under {root}/."))
    summary = summarise_costs(jobs)
    plots = plot_costs(summary, fig_dir / "cost")
    body = (
        "<p>From each job's <code>benchmark:</code> file: wall time (s), peak resident memory "
        "(MB), CPU time (s).</p>"
        + table_html(summary, "cost-rules", floats=5)
        + "".join(figure_html(p, "cost per rule") for p in plots if p.suffix == ".png")
        + "<h3>Per job</h3>"
        + table_html(jobs.drop(columns=["path"]), "cost-jobs", floats=5)
    )
    return _section("cost", "Cost", body)


def render_page(sections: Sequence[str], *, random_init: bool, reasons: Sequence[str]) -> str:
    banner = ""
    if random_init:
        items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
        banner = (
            f'<div class="banner" id="random-banner">{RANDOM_BANNER}. Some results below come from '
            "random-initialised weights; they test the pipeline, they say nothing about the "
            f"models.<ul>{items}</ul></div>"
        )
    nav = "".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in (
            ("summary", "Run summary"),
            ("segmentation", "Segmentation"),
            ("ct", "CT"),
            ("video", "Video"),
            ("cost", "Cost"),
        )
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>fmeval report</title><style>{CSS}</style></head><body>"
        f"<h1>fmeval report</h1><nav>{nav}</nav>{banner}{''.join(sections)}</body></html>\n"
    )
