"""The ``classify`` section of a schema-validated config as typed values (no torch import).

The schema checks each field (and fills in the defaults); :func:`fmeval.config.check_config`
checks the cross-field rules (names distinct from the segmentation datasets, resolutions
that fit every patch size). This only gives the values their types, at DAG time.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DATASET_DEFAULTS = {"sha256": None, "format": "folder", "test_fraction": 0.25, "seed": 0}


@dataclass(frozen=True)
class ClassifyPlan:
    """The ``classify`` section."""

    datasets: dict[str, dict]  # name -> source, sha256, format, test_fraction, seed
    resolutions: tuple[int, ...]
    k: tuple[int, ...]
    temperature: float
    cs: tuple[float, ...]
    val_fraction: float
    seed: int
    max_iter: int
    tol: float
    misclassified: int


def classify_plan(section: Mapping, *, resolutions: Sequence[int]) -> ClassifyPlan:
    """The plan of the ``classify`` section; null ``resolutions`` means the top-level ones."""
    knn, linear = section["knn"], section["linear"]
    return ClassifyPlan(
        # entries of a name-keyed map get no schema defaults filled in: add them here
        datasets={n: {**DATASET_DEFAULTS, **e} for n, e in section["datasets"].items()},
        resolutions=tuple(int(r) for r in section.get("resolutions") or resolutions),
        k=tuple(int(k) for k in knn["k"]),
        temperature=float(knn["temperature"]),
        cs=tuple(float(c) for c in linear["cs"]),
        val_fraction=float(linear["val_fraction"]),
        seed=int(linear["seed"]),
        max_iter=int(linear["max_iter"]),
        tol=float(linear["tol"]),
        misclassified=int(section["misclassified"]),
    )
