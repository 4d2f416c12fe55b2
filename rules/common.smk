import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from fmeval.models import check_models  # noqa: E402


validate(config, schema="../schemas/config.schema.yaml")
MODELS = check_models(config["models"], config["resolutions"])
DATASETS = list(config["datasets"])
RESOLUTIONS = [int(r) for r in config["resolutions"]]

# Compute jobs find fetched weights here, never on the network.
os.environ["TORCH_HOME"] = str(Path("resources/torch").resolve())
os.environ["HF_HOME"] = str(Path("resources/huggingface").resolve())


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    model=_alternatives(MODELS),
    res=r"\d+",


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


def get_final_outputs():
    """What `rule all` asks for."""
    return get_all_features()
