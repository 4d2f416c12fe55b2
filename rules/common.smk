import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
os.environ.setdefault("MPLBACKEND", "Agg")  # one matplotlib backend for every job

from fmeval.classify.plan import classify_plan
from fmeval.config import check_config
from fmeval.ct.sweep import ct_grid
from fmeval.features.models import check_models
from fmeval.features.names import name_test_images

# Each value is checked once: the schema checks every field (and fills in defaults),
# check_config the rules that tie fields together. Everything below trusts the config.
validate(config, schema="../schemas/config.schema.yaml")
check_config(config)
MODELS = check_models(config["models"])
DATASETS = list(config["datasets"])
RESOLUTIONS = [int(r) for r in config["resolutions"]]
CT = ct_grid(config["ct"])  # the CT grid: phantoms, views, noise levels, methods
CLASSIFY = classify_plan(config["classify"], resolutions=RESOLUTIONS)
# classification datasets (rules/classify.smk), distinct from the segmentation ones
CLASSIFY_DATASETS = list(CLASSIFY.datasets)


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


def get_test_images(dataset):
    """The names of one dataset's test images (the {image} wildcard)."""
    return name_test_images(config["datasets"][dataset].get("test_images", []))


def get_all_test_images():
    return sorted({name for d in DATASETS for name in get_test_images(d)})


wildcard_constraints:
    dataset=_alternatives(DATASETS + CLASSIFY_DATASETS),
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


# --- classification (k-NN and linear probes on image embeddings) -------------------


def expand_classify_cells(pattern):
    """``pattern`` for every (classification dataset, model, classification resolution)."""
    return expand(
        pattern, dataset=CLASSIFY_DATASETS, model=list(MODELS), res=CLASSIFY.resolutions
    )


def get_classify_report_outputs():
    """The named outputs of report_classify: two CSV tables, PNG and SVG figures."""
    folder = "results/report/classify"
    out = {"accuracy": f"{folder}/accuracy.csv", "curves": f"{folder}/curves.csv"}
    for name in ("table", "knn", "linear", "confusion", "mistakes"):
        for ext in ("png", "svg"):
            out[f"{name}_{ext}"] = f"{folder}/{name}.{ext}"
    return out


# --- report ------------------------------------------------------------------------


def get_benchmark_patterns():
    """Each rule's benchmark: pattern, to name the rule behind a benchmark file."""
    return {r.name: str(r.benchmark) for r in workflow.rules if r.benchmark}
