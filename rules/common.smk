import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
os.environ.setdefault("MPLBACKEND", "Agg")  # one matplotlib backend for every job

from fmeval.config import check_config
from fmeval.ct.sweep import ct_grid
from fmeval.features.models import check_models
from fmeval.features.names import name_test_images
from fmeval.video.plan import video_plan

# Each value is checked once: the schema checks every field (and fills in defaults),
# check_config the rules that tie fields together. Everything below trusts the config.
validate(config, schema="../schemas/config.schema.yaml")
check_config(config)
MODELS = check_models(config["models"])
DATASETS = list(config["datasets"])
RESOLUTIONS = [int(r) for r in config["resolutions"]]
CT = ct_grid(config["ct"])  # the CT grid: phantoms, views, noise levels, methods
VIDEO = video_plan(config)  # the video sweep: datasets, models, resolutions, methods


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


def get_test_images(dataset):
    """The names of one dataset's test images (the {image} wildcard)."""
    return name_test_images(config["datasets"][dataset].get("test_images", []))


def get_all_test_images():
    return sorted({name for d in DATASETS for name in get_test_images(d)})


wildcard_constraints:
    dataset=_alternatives([*DATASETS, *VIDEO.datasets]),
    model=_alternatives(MODELS),
    res=r"\d+",
    image=_alternatives(get_all_test_images()) or "(?!)",
    n_phantoms=r"\d+",
    views=r"\d+",
    noise=_alternatives(CT.noise),
    method=_alternatives(CT.methods),


# --- data and features ---------------------------------------------------------------


def get_dataset_source(key):
    """One source field of a dataset (images, labels or test_images), for download_dataset."""
    return lambda wildcards: config["datasets"][wildcards.dataset].get(key, [])


def get_model_entry(wildcards):
    """The registry entry of one model, as passed to fetch_model."""
    return config["models"][wildcards.model]


def expand_cells(pattern, **extra):
    """``pattern`` for every (dataset, model, res) of the config."""
    return expand(
        pattern, dataset=DATASETS, model=list(MODELS), res=RESOLUTIONS, **extra
    )


def expand_test_images(pattern):
    """``pattern`` for every (dataset, model, res, test image): test images are per dataset."""
    return [
        path
        for d in DATASETS
        for path in expand(
            pattern,
            dataset=d,
            model=list(MODELS),
            res=RESOLUTIONS,
            image=get_test_images(d),
        )
    ]


# --- CT reconstruction -----------------------------------------------------------------


def get_phantoms():
    """The phantom stack of the configured count (its path names the count)."""
    return expand(rules.make_phantoms.output.phantoms, n_phantoms=CT.n_phantoms)[0]


def get_noise(wildcards):
    """One noise level as one value: {name, gain, sigma}."""
    level = CT.noise[wildcards.noise]
    return {"name": level.name, "gain": level.gain, "sigma": level.sigma}


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


def get_ram_weights(wildcards):
    """The RAM weights manifest, for the ram cells only."""
    return rules.fetch_ram_weights.output.manifest if wildcards.method == "ram" else []


def expand_reconstructions(pattern):
    """``pattern`` for every (method, noise, views) cell of the CT grid."""
    return expand(pattern, method=CT.methods, noise=list(CT.noise), views=CT.views)


def get_ct_examples():
    """The sparse and dense cells of the example figures: views, noise, images per method."""
    sparse, dense, noise = CT.examples
    return {
        setting: {
            "views": views,
            "noise": noise,
            "images": dict(
                zip(
                    CT.methods,
                    expand(
                        rules.reconstruct_sinograms.output.images,
                        method=CT.methods,
                        noise=noise,
                        views=views,
                    ),
                )
            ),
        }
        for setting, views in (("sparse", sparse), ("dense", dense))
    }


def get_ct_example_images():
    return sorted(
        {p for spec in get_ct_examples().values() for p in spec["images"].values()}
    )


# --- video object segmentation ----------------------------------------------------------


def get_video_source(key):
    """One field of a video dataset's entry (source, sha256, ...), for download_video."""
    return lambda wildcards: VIDEO.datasets[wildcards.dataset].get(key)


def get_video_options(wildcards):
    """One method's options only, so that changing `topk` reruns only `propagate`."""
    return VIDEO.options[wildcards.method]


def expand_video_cells(pattern, **fixed):
    """``pattern`` for every (dataset, model, res, method) of the video sweep."""
    axes = {
        "dataset": list(VIDEO.datasets),
        "model": list(VIDEO.models),
        "res": list(VIDEO.resolutions),
        "method": list(VIDEO.methods),
    }
    return expand(pattern, **{**axes, **fixed})


def get_video_strips():
    """{dataset: {method: masks}} the strips show: the first model at the largest resolution."""
    model, res = VIDEO.models[0], max(VIDEO.resolutions)
    return {
        d: dict(
            zip(
                VIDEO.methods,
                expand_video_cells(
                    rules.predict_video_masks.output.masks,
                    dataset=d,
                    model=model,
                    res=res,
                ),
            )
        )
        for d in VIDEO.datasets
    }


def get_video_report():
    """The video section for the page: {"tables": [jf, scores], "figures": [PNG]} or empty."""
    if not VIDEO.datasets:
        return {"tables": [], "figures": []}
    out = rules.report_video.output
    return {
        "tables": [out.jf, out.scores],
        "figures": [*out.j_over_time_png, *out.strips_png],
    }


def get_video_outputs():
    """Everything the video branch makes (for `rule all`); nothing without video datasets."""
    if not VIDEO.datasets:
        return []
    return [
        *expand_video_cells(rules.score_video.output.metrics),
        *expand_video_cells(rules.score_video.output.summary),
        *rules.report_video.output,
    ]


# --- report ------------------------------------------------------------------------


def get_benchmark_patterns():
    """Each rule's benchmark: pattern, to name the rule behind a benchmark file."""
    return {r.name: str(r.benchmark) for r in workflow.rules if r.benchmark}
