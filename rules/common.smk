import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
os.environ.setdefault("MPLBACKEND", "Agg")  # one matplotlib backend for every job

from fmeval.ct.sweep import check_ct
from fmeval.features.models import check_models

validate(config, schema="../schemas/config.schema.yaml")
MODELS = check_models(config["models"], config["resolutions"])
DATASETS = list(config["datasets"])
RESOLUTIONS = [int(r) for r in config["resolutions"]]
CT = check_ct(config["ct"])  # the CT grid: phantoms, views, noise levels, methods
# Compute jobs never touch the network: resources/models/{model}.json (fetch_model)
# holds absolute paths to the fetched hub code and checkpoint.


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    model=_alternatives(MODELS),
    res=r"\d+",
    n_phantoms=r"\d+",
    views=r"\d+",
    noise=_alternatives(CT.noise),
    method=_alternatives(CT.methods),


def get_dataset_params(wildcards):
    """The sources of one dataset, as passed to download_dataset."""
    entry = config["datasets"][wildcards.dataset]
    return {
        "images": entry["images"],
        "labels": entry["labels"],
        "test_images": entry.get("test_images", []),
    }


def get_model_entry(wildcards):
    """The registry entry of one model, as passed to fetch_model."""
    return config["models"][wildcards.model]


def get_fetch_threads():
    """Every local core: fetches run one at a time, so that offline the first
    unreachable source stops the run with a single error message."""
    from snakemake.utils import available_cpu_count

    try:
        cores = workflow.cores
    except Exception:  # no --cores (e.g. a remote executor): no need to serialise
        return 1
    return max(1, min(cores, available_cpu_count()))


def get_features(dataset, model, res):
    """The patch and CLS feature files of one (dataset, model, res)."""
    stem = f"results/features/{dataset}/{model}/{res}"
    return {"patches": f"{stem}.parquet", "cls": f"{stem}.cls.parquet"}


def get_all_features():
    return [
        path
        for d in DATASETS
        for m in MODELS
        for r in RESOLUTIONS
        for path in get_features(d, m, r).values()
    ]


# --- segmentation (probe, test-image segmentation, PCA renders) -------------------

from fmeval.features.names import name_test_images
from fmeval.seg.checks import check_cs, check_thresholds

PROBE_CS = check_cs(config["probe"]["cs"])
check_thresholds(
    fg_threshold=config["probe"]["fg_threshold"],
    bg_threshold=config["probe"]["bg_threshold"],
)


def get_test_images(dataset):
    """The names of one dataset's test images (the {image} wildcard)."""
    return name_test_images(config["datasets"][dataset].get("test_images", []))


def get_all_test_images():
    return sorted({name for d in DATASETS for name in get_test_images(d)})


def get_probe_outputs(dataset, model, res):
    """The CV table, CV summary and fitted probe of one (dataset, model, res)."""
    stem = f"results/probe/{dataset}/{model}/{res}"
    return {
        "table": f"{stem}/cv.parquet",
        "summary": f"{stem}/summary.json",
        "probe": f"{stem}/probe.npz",
    }


def _per_test_image(pattern):
    return [
        pattern.format(dataset=d, model=m, res=r, image=i)
        for d in DATASETS
        for m in MODELS
        for r in RESOLUTIONS
        for i in get_test_images(d)
    ]


def get_segment_scores():
    """Every segment_test_images JSON (held-out AP/IoU per test image)."""
    return _per_test_image("results/segment/{dataset}/{model}/{res}/{image}.json")


def get_all_cv_tables():
    return [
        get_probe_outputs(d, m, r)["table"]
        for d in DATASETS
        for m in MODELS
        for r in RESOLUTIONS
    ]


SEGMENTATION_REPORT = "results/report/segmentation"


def get_segmentation_report():
    """The segmentation section for the HTML report: {"tables": [CSV], "figures": [PNG]}."""
    figures = [
        f"{SEGMENTATION_REPORT}/ap_vs_c.png",
        f"{SEGMENTATION_REPORT}/best_ap_vs_res.png",
    ]
    figures += _per_test_image("results/segment/{dataset}/{model}/{res}/{image}.png")
    figures += _per_test_image("results/pca/{dataset}/{model}/{res}/{image}.png")
    if config["pca"]["attention_maps"]:
        figures += _per_test_image(
            "results/attention/{dataset}/{model}/{res}/{image}.png"
        )
    tables = [
        f"{SEGMENTATION_REPORT}/{name}.csv" for name in ("ap", "ap_best", "test_scores")
    ]
    return {"tables": tables, "figures": figures}


def get_segmentation_outputs():
    """Everything the segmentation branch makes (for `rule all`)."""
    section = get_segmentation_report()
    probes = [
        path
        for d in DATASETS
        for m in MODELS
        for r in RESOLUTIONS
        for path in get_probe_outputs(d, m, r).values()
    ]
    return probes + section["tables"] + section["figures"]


# --- CT reconstruction (phantoms, sinograms, reconstructions, scores, report) -------

CT_REPORT = "results/report/ct"
RAM_MANIFEST = "resources/ct/ram-weights.json"


def get_phantoms():
    """The phantom stack of the configured count (its path names the count)."""
    return f"resources/phantoms/ellipses-test-{CT.n_phantoms}.npy"


def get_method_options(wildcards):
    """One method's options: only tv has any, so changing them reruns only tv."""
    if wildcards.method == "tv":
        return {"lam": CT.tv_lam, "n_iter": CT.tv_n_iter, "prox_iter": CT.tv_prox_iter}
    return {}


def get_method_gpus(wildcards):
    """RAM and TV hold the GPU; FBP runs on the CPU (get_method_device)."""
    return int(wildcards.method in ("ram", "tv"))


def get_method_device(wildcards):
    return "cpu" if wildcards.method == "fbp" else config["device"]


def get_reconstruction_inputs(wildcards):
    """Sinograms and operator of the cell, plus the RAM weights manifest for ram."""
    inputs = {
        "sinograms": f"results/ct/sinograms/{wildcards.noise}/{wildcards.views}.npy",
        "operator": f"results/ct/operators/{wildcards.views}.json",
    }
    if wildcards.method == "ram":
        inputs["ram"] = RAM_MANIFEST
    return inputs


def get_reconstruction(method, views, noise):
    """The reconstructions (.npy) and their metadata (.json) of one cell."""
    stem = f"results/ct/reconstructions/{method}/{noise}/{views}"
    return {"images": f"{stem}.npy", "meta": f"{stem}.json"}


def get_all_reconstructions():
    return [
        get_reconstruction(m, v, n)
        for m in CT.methods
        for n in CT.noise
        for v in CT.views
    ]


def get_ct_examples():
    """The sparse and dense cells of the example figures: views, noise, images per method."""
    sparse, dense, noise = CT.examples
    return {
        setting: {
            "views": views,
            "noise": noise,
            "images": {
                m: get_reconstruction(m, views, noise)["images"] for m in CT.methods
            },
        }
        for setting, views in (("sparse", sparse), ("dense", dense))
    }


def get_ct_example_images():
    return sorted(
        {p for spec in get_ct_examples().values() for p in spec["images"].values()}
    )


def get_ct_report():
    """The CT section for the HTML report: {"tables": [CSV], "figures": [PNG]}."""
    figures = ["psnr_vs_views", "ssim_vs_views", "examples_sparse", "examples_dense"]
    return {
        "tables": [f"{CT_REPORT}/ct.csv"],
        "figures": [f"{CT_REPORT}/{name}.png" for name in figures],
    }


def get_ct_outputs():
    """Everything the CT branch makes (for `rule all`)."""
    section = get_ct_report()
    return ["results/ct/metrics.parquet"] + section["tables"] + section["figures"]


def get_final_outputs():
    """What `rule all` asks for."""
    return (
        get_all_features()
        + get_segmentation_outputs()
        + get_ct_outputs()
        + ["results/report/index.html"]
    )


# --- report ---------------------------------------------------------------------


def get_stage_report(stage):
    """{"tables": [...], "figures": [...]} of one stage's report section (empty if the stage is absent)."""
    getter = globals().get(f"get_{stage}_report")
    found = getter() if getter else {}
    return {
        "tables": list(found.get("tables", [])),
        "figures": list(found.get("figures", [])),
    }


def get_benchmark_patterns():
    """Each rule's benchmark: pattern, to name the rule behind a benchmark file."""
    return {r.name: str(r.benchmark) for r in workflow.rules if r.benchmark}
