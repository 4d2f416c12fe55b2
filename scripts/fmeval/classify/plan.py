"""The ``classify`` section of a schema-validated config as typed values (no torch import).

The schema checks each field (and fills in the defaults); :func:`fmeval.config.check_config`
checks the cross-field rules (names distinct from the segmentation datasets, resolutions
that fit every patch size). This only gives the values their types, at DAG time.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fmeval.classify.methods import METHODS, method_options
from fmeval.classify.protocols import (
    DEFAULT_PROTOCOL,
    KNN_VOTE,
    LINEAR_METHOD,
    PROTOCOLS,
    departures,
    label,
)
from fmeval.features.taps import parse_tap
from fmeval.features.transforms import get_transform

DATASET_DEFAULTS = {"sha256": None, "format": "folder", "test_fraction": 0.25, "seed": 0}


@dataclass(frozen=True)
class ClassifyPlan:
    """The ``classify`` section."""

    datasets: dict[str, dict]  # name -> source, sha256, format, test_fraction, seed
    resolutions: tuple[int, ...]
    k: tuple[int, ...]
    temperature: float
    cs: tuple[float, ...] | None  # None: the protocol's DINOv2 grid (fmeval.classify.logreg)
    val_fraction: float
    seed: int
    max_iter: int
    tol: float
    misclassified: int
    # issue 25: the named protocol (fmeval.classify.protocols) and what departs from it
    protocol: str = DEFAULT_PROTOCOL
    tap: str = "last-norm"
    transform: str = "classification"
    knn_vote: str = "dinov2"
    linear_method: str = "log_regression"
    features_changes: list[str] = field(default_factory=list)  # tap, transform
    knn_label: str = "dinov2 protocol"
    linear_label: str = "dinov2 protocol"


def classify_plan(section: Mapping, *, resolutions: Sequence[int]) -> ClassifyPlan:
    """The plan of the ``classify`` section; null ``resolutions`` means the top-level ones.

    Each probe value is the config's or, where it gives none, the protocol's.
    """
    protocol = section.get("protocol") or DEFAULT_PROTOCOL
    preset = PROTOCOLS[protocol]  # the schema allows only these names
    # each probe's options (its record's, fmeval.classify.methods): the config's, else the preset's
    options = {m: method_options(m, section, preset) for m in METHODS}
    knn, linear = options["knn"], options["linear"]
    tap = section.get("tap") or preset["tap"]
    transform = section.get("transform") or preset["transform"]
    parse_tap(tap, key="classify.tap")
    get_transform(transform, key="classify.transform")
    features = departures(protocol, section, None)
    return ClassifyPlan(
        # entries of a name-keyed map get no schema defaults filled in: add them here
        datasets={n: {**DATASET_DEFAULTS, **e} for n, e in section["datasets"].items()},
        resolutions=tuple(int(r) for r in section.get("resolutions") or resolutions),
        k=tuple(int(k) for k in knn["k"]),
        temperature=float(knn["temperature"]),
        cs=None if linear["cs"] is None else tuple(float(c) for c in linear["cs"]),
        val_fraction=float(linear["val_fraction"]),
        seed=int(linear["seed"]),
        max_iter=int(linear["max_iter"]),
        tol=float(linear["tol"]),
        misclassified=int(section["misclassified"]),
        protocol=protocol,
        tap=tap,
        transform=transform,
        knn_vote=KNN_VOTE[protocol],
        linear_method=LINEAR_METHOD[protocol],
        features_changes=features,
        knn_label=label(protocol, [*features, *departures(protocol, section, "knn")]),
        linear_label=label(protocol, [*features, *departures(protocol, section, "linear")]),
    )
