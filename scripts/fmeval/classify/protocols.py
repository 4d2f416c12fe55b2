"""Named classification protocols: presets of every value that defines a k-NN or linear-probe
number, and the words that say when a config departs from one (no torch import).

- ``dinov2`` (the default): DINOv2's ``dinov2/eval/knn.py`` and ``log_regression.py``
  (Oquab et al., "DINOv2: Learning Robust Visual Features without Supervision", TMLR 2024;
  github.com/facebookresearch/dinov2). Tokens: the model's normed CLS token (its forward
  output; tap ``last-norm``), images through ``make_classification_eval_transform``
  (transform ``classification``). k-NN: cosine similarity, the top-k taken once at the
  largest k, votes ``softmax(sim / T)`` over those neighbours summed over the first k,
  top-1/top-5 over the class scores (torchmetrics' top-k accuracy), k 10, 20, 100, 200,
  T 0.07. Linear: ``LogisticRegression`` (L-BFGS, L2, tol 1e-12, 1000 iterations) on the raw
  float64 embeddings, C over 10^linspace(-6, 5, 45) chosen on 10% of the training images
  (``torch.manual_seed(0)``; ``randperm``), then refitted on all of them.
- ``fmeval-v1``: fmeval's settings before issue 25, kept to compare: tokens of the last block
  without the norm (tap ``last-raw``), the whole image resized (transform ``tutorial5``),
  k-NN votes ``exp(sim / T)`` with DINO's top-5 over the first min(5, k) neighbours' classes,
  and a logistic regression on standardised embeddings, C over 0.001-10, chosen on a
  stratified 20% split.

Any value may be overridden in the config; then every output, its metadata and the report
name the departure: "dinov2 protocol, temperature 0.05 instead of 0.07".
"""

from collections.abc import Mapping

PROTOCOLS: dict[str, dict] = {
    "dinov2": {
        "tap": "last-norm",
        "transform": "classification",
        "knn": {"k": [10, 20, 100, 200], "temperature": 0.07},
        # cs None: DINOv2's grid, 10 ** torch.linspace(-6, 5, 45) (float32), built at run time
        "linear": {"cs": None, "val_fraction": 0.1, "seed": 0, "max_iter": 1000, "tol": 1e-12},
    },
    "fmeval-v1": {
        "tap": "last-raw",
        "transform": "tutorial5",
        "knn": {"k": [10, 20, 100, 200], "temperature": 0.07},
        "linear": {
            "cs": [0.001, 0.01, 0.1, 1.0, 10.0],
            "val_fraction": 0.2,
            "seed": 0,
            "max_iter": 1000,
            "tol": 1e-6,
        },
    },
}
DEFAULT_PROTOCOL = "dinov2"
# how each protocol votes and fits (not a value to override: another method is another protocol)
KNN_VOTE = {"dinov2": "dinov2", "fmeval-v1": "dino"}
LINEAR_METHOD = {"dinov2": "log_regression", "fmeval-v1": "standardised"}
DINOV2_C_GRID = "10^linspace(-6, 5, 45)"


def _shown(key: str, value) -> str:
    if key == "cs":
        return DINOV2_C_GRID if value is None else str([float(c) for c in value])
    return str(value)


def _words(key: str) -> str:
    return {"cs": "C grid", "val_fraction": "validation fraction"}.get(key, key.replace("_", " "))


def departures(protocol: str, given: Mapping, stage: str) -> list[str]:
    """'temperature 0.05 instead of 0.07' for each value of ``given[stage]`` (or the tap or
    transform, ``stage`` None) that differs from the protocol's."""
    preset = PROTOCOLS[protocol]
    values = preset[stage] if stage else {k: preset[k] for k in ("tap", "transform")}
    found = (given.get(stage) or {}) if stage else given
    out = []
    for key, default in values.items():
        value = found.get(key)
        if value is None:
            continue
        same = list(value) == list(default or []) if key in ("k", "cs") else value == default
        if not same:
            out.append(f"{_words(key)} {_shown(key, value)} instead of {_shown(key, default)}")
    return out


def label(protocol: str, changes: list[str]) -> str:
    """'dinov2 protocol' or 'dinov2 protocol, temperature 0.05 instead of 0.07'."""
    return ", ".join([f"{protocol} protocol", *changes])
