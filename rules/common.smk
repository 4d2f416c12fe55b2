import dataclasses
import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
os.environ.setdefault("MPLBACKEND", "Agg")  # one matplotlib backend for every job
# torch's OpenMP threads sleep between parallel regions instead of spinning: on a shared CPU a
# 2-thread job whose threads spin waits for both to be scheduled, 3-5x slower (perf/ct.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from fmeval.branches import BRANCHES, datasets_of, enabled, get_branch
from fmeval.canon import (
    EXECUTION_SETTINGS,
    canonical_config,
    canonicalise_rules,
    without_execution_settings,
)
from fmeval.classify.plan import classify_plan
from fmeval.config import check_config, check_schema, load_schema
from fmeval.ct.sweep import ct_grid
from fmeval.errors import ConfigError
from fmeval.features.families import attention_maps_of
from fmeval.features.models import check_models
from fmeval.features.taps import DEFAULT_TAP, parse_tap
from fmeval.features.transforms import DEFAULT_TRANSFORM, TRANSFORMS, get_transform
from fmeval.io.sources import check_config_sources, local_path
from fmeval.video.plan import video_plan
from fmeval.video.protocol import FEATURE_TRANSFORMS

# Each value is checked once: the schema checks every field (check_schema gives a mistake as
# one line; validate fills in the defaults), check_config the rules that tie fields together,
# check_models the model names. A mistake stops the plan (a dry run too) before any job, as
# one line: no schema dump, no traceback. Everything below trusts the config.
try:
    check_schema(config)
    validate(config, schema="../schemas/config.schema.yaml")
    # --- one spelling per experiment (issue 22; fmeval.canon) ---------------------------
    # The config is rewritten in its canonical spelling (defaults filled in, numbers typed by
    # the schema, sorted keys, `x` as `[x]` where both are allowed) before anything reads it,
    # and the Snakefile's last line makes every rule's params canonical (sorted mappings):
    # a config that means the same experiment plans the same params, so nothing reruns.
    _canonical = canonical_config(config, load_schema())
    config.clear()
    config.update(_canonical)
    # --- end of one spelling per experiment ----------------------------------------------
    check_config(config)
    check_config_sources(config)  # schemes, http only with a sha256, local files exist
    MODELS = check_models(config["models"])
except ConfigError as err:
    sys.exit(f"config error: {err}")
DATASETS = list(config["datasets"])
# issue 24: the branches this config runs (fmeval.branches; the config's `branches` list)
BRANCHES_ON = enabled(config)


# --- issue 23: the output folders are writable, checked when a run starts (not a dry run) ---
onstart:
    from fmeval.io.writable import UnwritableFolder, check_writable

    try:
        check_writable()  # results/, resources/, logs/, benchmarks/ and mounts below them
    except UnwritableFolder as err:
        sys.exit(f"environment error: {err}")


# Where and how fast jobs run, not what they compute: EXECUTION_SETTINGS (device, batch_size,
# downloads, probe.memory_mb; defined in fmeval.canon, add new ones there). Jobs read them from
# the config (never params:), so changing them reruns nothing; each job records its device.
RESOLUTIONS = [int(r) for r in config["resolutions"]]
CT = ct_grid(config["ct"])  # the CT grid: phantoms, views, noise levels, methods
# the video sweep: datasets, models, resolutions, methods; video_plan also resolves the
# propagation protocol and checks its overrides (issue 25)
try:
    VIDEO = video_plan(config)
except ConfigError as err:
    sys.exit(f"config error: {err}")


def get_result_config():
    """The config without the execution settings (what the report shows and depends on)."""
    return without_execution_settings(config)


try:  # issue 25: the protocol's tap and transform names are checked here
    CLASSIFY = classify_plan(config["classify"], resolutions=RESOLUTIONS)
except ConfigError as err:
    sys.exit(f"config error: {err}")
# classification datasets (rules/classify.smk), distinct from the segmentation ones
CLASSIFY_DATASETS = list(CLASSIFY.datasets)


def _alternatives(names):
    """A regex of exactly these names; one that matches nothing when there are none."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    dataset=_alternatives([d for b in BRANCHES for d in datasets_of(config, b)]),
    model=_alternatives(MODELS),
    res=r"\d+",
    n_phantoms=r"\d+",
    views=r"\d+",
    noise=_alternatives(CT.noise),
    method=_alternatives(CT.methods),


# --- data and features ---------------------------------------------------------------


def get_dataset_source(key):
    """One source field of a dataset (images, labels or test_images), for download_dataset."""
    return lambda wildcards: config["datasets"][wildcards.dataset].get(key, [])


def get_model_spec(wildcards):
    """One model's spec (fmeval.features.models.ModelSpec) as a mapping, for fetch_model."""
    return dataclasses.asdict(MODELS[wildcards.model])


def get_local_weights(weights):
    """{"checkpoint": path} for a local checkpoint, so that replacing it reruns its fetch
    rule (and so everything computed from it); {} for `pretrained` and `random`."""
    if weights in ("pretrained", "random"):
        return {}
    return {"checkpoint": str(local_path(weights))}


def get_cache_dir(wildcards, output):
    """The cache folder (resources/) of a fetch rule's manifest, resources/<kind>/<x>.json."""
    return os.path.dirname(os.path.dirname(output.manifest))


def get_model_weights(wildcards):
    return get_local_weights(
        config["models"][wildcards.model].get("weights", "pretrained")
    )


def expand_cells(pattern, **extra):
    """``pattern`` for every (dataset, model, res) of the config."""
    return expand(
        pattern, dataset=DATASETS, model=list(MODELS), res=RESOLUTIONS, **extra
    )


# --- feature taps and image transforms (issue 25) ---------------------------------------
# A feature file is named by its tap (which blocks, final norm or not: fmeval.features.taps)
# and image transform (fmeval.features.transforms). Branch rules take their features with
# features_of(tap, transform) only.

TRANSFORM_NAMES = list(TRANSFORMS)
TAP_PATTERN = r"last(?:[1-9]\d*)?-(?:raw|norm)"
FEATURE_DEFAULT = {
    "patches": "results/features/{dataset}/{model}/{res}.parquet",
    "cls": "results/features/{dataset}/{model}/{res}.cls.parquet",
}
FEATURE_VARIANT = {
    "patches": "results/features/{dataset}/{model}/{res}/{transform}/{tap}.parquet",
    "cls": "results/features/{dataset}/{model}/{res}/{transform}/{tap}.cls.parquet",
}


def features_of(tap=DEFAULT_TAP, transform=DEFAULT_TRANSFORM):
    """{"patches": path, "cls": path} of the features under ``tap`` and ``transform``, with
    the {dataset}, {model} and {res} wildcards left for the calling rule. The default pair
    (last-raw, tutorial5) is extract_features' files; any other, extract_features_variant's.
    """
    parse_tap(
        tap
    )  # a bad name stops the plan in one line (callers check it at plan time)
    get_transform(transform)
    if (tap, transform) == (DEFAULT_TAP, DEFAULT_TRANSFORM):
        return dict(FEATURE_DEFAULT)
    return {
        k: v.replace("{transform}", transform).replace("{tap}", tap)
        for k, v in FEATURE_VARIANT.items()
    }


# --- issue 27: sharded extraction (fmeval.features.shards) -------------------------------
# With features.shards = n > 0, a segmentation dataset's default features are n shard jobs
# (extract_feature_shard), an image's shard a hash of its name. Each shard's images are its
# params, read from the manifest download_dataset (a checkpoint) writes, and the manifest is
# an ancient input: a new manifest reruns only the shards whose images changed (a shard
# that draws no image writes files without rows). The rules that read a cell's features
# take its n shard files (cell_features; known without the manifest, so the plan of those
# rules does not wait for the checkpoint), which the readers (fmeval.features.shardset)
# return in the single file's order: the numbers do not change, and a new shard file
# reruns them as a new feature file would. With n = 0 (the default) all is as before.

SHARDS = config["features"]["shards"]
FEATURE_SHARD = {
    "patches": "results/features/{dataset}/{model}/{res}.shards{shards}/patches/{shard}.parquet",
    "cls": "results/features/{dataset}/{model}/{res}.shards{shards}/cls/{shard}.cls.parquet",
}


def get_shard_images(wildcards):
    """[name, image, bytes] of the shard's images: its params (a change reruns the shard),
    from the manifest once download_dataset (a checkpoint) has written it."""
    from fmeval.features.shards import shard_members

    manifest = checkpoints.download_dataset.get(
        dataset=wildcards.dataset
    ).output.manifest
    return shard_members(manifest, int(wildcards.shard), int(wildcards.shards))


def cell_feature_files(kind, dataset, model, res):
    """The files of one cell's default features: one, or its shards'."""
    if not (SHARDS and dataset in DATASETS):
        return [FEATURE_DEFAULT[kind].format(dataset=dataset, model=model, res=res)]
    cell = dict(dataset=dataset, model=model, res=res, shards=SHARDS)
    return [FEATURE_SHARD[kind].format(shard=k, **cell) for k in range(SHARDS)]


def cell_features(kind):
    """What the rules reading a cell's default features ("patches" or "cls") take: today's
    file pattern unsharded, else a function giving the cell's shard files."""
    if not SHARDS:
        return FEATURE_DEFAULT[kind]
    return lambda w: cell_feature_files(kind, w.dataset, w.model, w.res)


def feature_targets(kind):
    """Every cell's default feature files (for `all` and the report)."""
    if not SHARDS:
        return expand_cells(FEATURE_DEFAULT[kind])
    return [
        f
        for d in DATASETS
        for m in MODELS
        for r in RESOLUTIONS
        for f in cell_feature_files(kind, d, m, r)
    ]


if workflow.is_main_process:  # the plan's disk estimate (fmeval.features.diskplan)
    from fmeval.features.diskplan import disk_warnings

    for _line in disk_warnings(
        [(d, r) for d in DATASETS for r in RESOLUTIONS],
        MODELS,
        manifest_of=lambda d: f"resources/datasets/{d}/manifest.json",
    ):
        print(_line, file=sys.stderr)


# --- issue 28: backbone families (fmeval.features.families) ------------------------------


def expand_attention_cells(pattern):
    """``pattern`` for the cells whose model can show CLS attention maps (a CLS token, no
    rotary embeddings); the report's model table says why the others have none."""
    return expand(
        pattern,
        dataset=DATASETS,
        model=[k for k, s in MODELS.items() if attention_maps_of(s) is None],
        res=RESOLUTIONS,
    )


# --- CT reconstruction -----------------------------------------------------------------


def get_phantoms():
    """The phantom stack of the configured count (its path names the count)."""
    return expand(
        rules.make_phantoms.output.phantoms, part="test", n_phantoms=CT.n_phantoms
    )[0]


def get_noise(wildcards):
    """One noise level as one value: {name, gain, sigma}."""
    level = CT.noise[wildcards.noise]
    return {"name": level.name, "gain": level.gain, "sigma": level.sigma}


def get_method_options(wildcards):
    """One method's options (its record's, fmeval.ct.methods; "tune" leaves a value to rule
    tune_baseline), so changing them reruns only that method."""
    return dict(CT.options[wildcards.method])


# --- issue 26: baselines tuned per cell on validation phantoms ---------------------------


def get_validation_phantoms():
    """The validation phantoms the tuning uses (dival's validation part, never the test's)."""
    return expand(
        rules.make_phantoms.output.phantoms,
        part="validation",
        n_phantoms=CT.tune["n_validation"],
    )[0]


def get_tune_search(wildcards):
    """The search of one method: only what it reads, so a change retunes only that method."""
    from fmeval.ct.methods import tune_search

    method = wildcards.method
    return tune_search(method, CT.options[method], CT.tune)


def get_tuning(wildcards):
    """The cell's tuning record when its method leaves an option to tuning, else nothing."""
    from fmeval.ct.tuned import needs_tuning

    if not needs_tuning(wildcards.method, get_method_options(wildcards)):
        return []
    return rules.tune_baseline.output.tuning.format(**wildcards)


# --- end issue 26 --------------------------------------------------------------------------


def get_method_gpus(wildcards):
    """1 for a method whose record uses the GPU (RAM, TV), else 0 (FBP runs on the CPU)."""
    from fmeval.ct.methods import METHODS

    return int(METHODS[wildcards.method].gpu)


def get_method_precision(wildcards):
    """The config's precision for a network (RAM); the others always compute in fp32 (and do
    not rerun when it changes)."""
    from fmeval.ct.methods import METHODS

    return config["precision"] if METHODS[wildcards.method].precision else "fp32"


def get_ram_weights(wildcards):
    """The RAM weights manifest, for the cells of a method that needs weights only."""
    from fmeval.ct.methods import METHODS

    needs = METHODS[wildcards.method].needs_weights
    return rules.fetch_ram_weights.output.manifest if needs else []


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


# issue 25: propagation takes the protocol's tokens (the last block, after the final norm)
# and frame transform (dino: 480 px high, width floored to 64; dinov3: short side 960); the
# {res} wildcard is the transform's size. The classifier method reads the same features.
VIDEO_TRANSFORMS = FEATURE_TRANSFORMS  # {protocol transform: feature transform}
VIDEO_FEATURES = features_of(
    "last-norm" if VIDEO.protocol.norm else "last-raw",
    VIDEO_TRANSFORMS[VIDEO.protocol.transform],
)


def get_video_source(key):
    """One field of a video dataset's entry (source, sha256, ...), for download_video."""
    return lambda wildcards: VIDEO.datasets[wildcards.dataset].get(key)


def get_classify_source(key):
    """One field of a classification dataset's entry, for download_classification_dataset."""
    return lambda wildcards: CLASSIFY.datasets[wildcards.dataset].get(key)


def get_video_options(wildcards):
    """One method's options only, so that changing `topk` reruns only `propagate`; for
    `propagate` every value of the protocol (fmeval.video.protocol), overrides included.
    """
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


# The feature extractions run only for a branch that declares them in register_branch's
# `shared` list (which one depends on the config's taps and shards).
ON_DEMAND_RULES = {
    "extract_features",
    "extract_features_variant",
    "extract_feature_shard",
}


def get_rule_names():
    """Every rule that runs jobs in the branches this config runs, so the cost table has a
    row for each: the rules of their rules files, the shared rules they declare
    (register_branch's `shared`) and the workflow's own (build_report).
    """
    shared = {
        r for reg in _REGISTERED.values() for r in reg["shared"]
    } | ON_DEMAND_RULES
    on_files = {f for name in BRANCHES_ON for f in get_branch(name).rules}
    on_shared = {r for name in BRANCHES_ON for r in _REGISTERED[name]["shared"]}
    branch_files = {f for b in BRANCHES for f in b.rules}
    names = []
    for r in workflow.rules:
        file = Path(str(r.snakefile)).name
        if file in branch_files:
            keep = file in on_files
        else:
            keep = r.name in on_shared or (r.name not in shared and r.name != "all")
        if keep:
            names.append(r.name)
    return sorted(names)


# --- the branch registry (issue 24) --------------------------------------------------
# Each branch (fmeval.branches.BRANCHES) ends its rules file with one register_branch(...)
# call; `rule all`, build_report and the cost table read what it registered, for the
# branches this config runs only (BRANCHES_ON, from the config's `branches`). An off branch's
# rules stay defined, but nothing asks for their files, so none of its jobs is planned.

_REGISTERED = {}


def is_activated(name):
    """Whether branch ``name`` runs in this config."""
    get_branch(name)  # a name outside the registry is a typo in the rules
    return name in BRANCHES_ON


def register_branch(name, *, final=(), tables=(), figures=(), records=None, shared=()):
    """Register branch ``name``'s files:

    - ``final``: its targets of `rule all` (besides its report inputs);
    - ``tables`` / ``figures``: its report section's inputs (build_report's
      ``<name>_tables`` / ``<name>_figures``; fmeval.report.sections.<name> reads them);
    - ``records``: more named inputs of build_report, merged across branches
      (``model_manifests``, and the device records of fmeval.report.render.DEVICE_RECORDS);
    - ``shared``: the rules outside its rules files that its jobs need (for the cost table).
    """
    get_branch(name)
    if name in _REGISTERED:
        raise ValueError(f"register_branch({name!r}) is called twice")
    _REGISTERED[name] = {
        "final": [str(p) for p in final],
        "tables": [str(p) for p in tables],
        "figures": [str(p) for p in figures],
        "records": {k: [str(p) for p in v] for k, v in (records or {}).items()},
        "shared": list(shared),
    }


def _registered(name):
    if name not in _REGISTERED:
        files = ", ".join(f"rules/{f}" for f in get_branch(name).rules)
        raise ValueError(
            f"branch {name!r} is on but {files} never calls register_branch"
        )
    return _REGISTERED[name]


def get_final_output():
    """The inputs of the `all` rule: the targets and report inputs of every branch that runs."""
    out = []
    for name in BRANCHES_ON:
        reg = _registered(name)
        out += [*reg["final"], *reg["tables"], *reg["figures"]]
    return list(dict.fromkeys(out))


def get_report_inputs():
    """build_report's named inputs, from the branches that run: ``<name>_tables``,
    ``<name>_figures`` and the records (each file once)."""
    inputs = {}
    for name in BRANCHES_ON:
        reg = _registered(name)
        inputs[f"{name}_tables"] = reg["tables"]
        inputs[f"{name}_figures"] = reg["figures"]
        for key, paths in reg["records"].items():
            inputs[key] = list(dict.fromkeys([*inputs.get(key, []), *paths]))
    return inputs


def feature_maker(files):
    """Which of extract_features (the default tap and transform) and
    extract_features_variant (any other) makes features_of()'s ``files``, for the
    `shared` list of a branch."""
    return (
        "extract_features" if files == FEATURE_DEFAULT else "extract_features_variant"
    )


# --- GPU routing (issue 24): the Slurm partition follows each job's own `gpu` resource -------


def route_gpu_jobs(rules):
    """With FMEVAL_SLURM_GPU_PARTITION set (profiles/slurm), every job of a rule with a
    `gpu` resource goes to that partition when its gpu is above 0 (a number, or a function
    of the job such as get_method_gpus) and to FMEVAL_SLURM_PARTITION otherwise; jobs of
    rules without one take the profile's default. Derived from the rules, so a new GPU rule
    cannot be missed; the Snakefile calls it after every rule. Where jobs run, not what they
    compute: it changes no params.
    """
    gpu_partition = os.environ.get("FMEVAL_SLURM_GPU_PARTITION", "")
    cpu_partition = os.environ.get("FMEVAL_SLURM_PARTITION", "")
    if not gpu_partition:
        return
    for r in rules:
        if "gpu" in r.resources:
            r.resources["slurm_partition"] = _partition_of(
                r.resources["gpu"], gpu_partition, cpu_partition
            )


def _partition_of(gpu, gpu_partition, cpu_partition):
    """A resource function: ``gpu_partition`` when the job's ``gpu`` resource is above 0."""

    def partition(wildcards, input, attempt, threads=None):
        value = gpu.evaluate(wildcards, input=input, attempt=attempt, threads=threads)
        return gpu_partition if int(value.value or 0) > 0 else cpu_partition

    return partition


# --- files shown in Snakemake's report (snakemake --report) ------------------------------


def image_folder(path, subcategory, caption):
    """A folder of every test image of one (dataset, model, res) cell, <image>.png (and
    .json), in one job; Snakemake's report shows each PNG under Segmentation/subcategory.
    """
    return report(
        directory(path),
        patterns=["{image}.png"],
        category="Segmentation",
        subcategory=subcategory,
        labels={
            "dataset": "{dataset}",
            "model": "{model}",
            "resolution": "{res}",
            "image": "{image}",
        },
        caption=caption,
    )


def segmentation_file(name, subcategory):
    """results/report/segmentation/<name>, shown in Snakemake's report with its caption
    report/segmentation_<stem>.rst."""
    return report(
        f"results/report/segmentation/{name}",
        category="Segmentation",
        subcategory=subcategory,
        caption=f"../report/segmentation_{Path(name).stem}.rst",
    )


def ct_figure(name, stem, subcategory, caption, labels=None):
    """{<name>_png: PNG shown in Snakemake's report, <name>_svg: SVG} of one CT figure."""
    png = report(
        f"results/report/ct/{stem}.png",
        category="CT reconstruction",
        subcategory=subcategory,
        caption=caption,
        labels=labels,
    )
    return {f"{name}_png": png, f"{name}_svg": f"results/report/ct/{stem}.svg"}


def ct_example_figure(views):
    """The example images at the sparse or dense view count (``views``)."""
    labels = {"views": views, "figure": "median and worst phantom"}
    caption = "../report/ct_examples.rst"
    return ct_figure(views, f"examples_{views}", "Example images", caption, labels)
