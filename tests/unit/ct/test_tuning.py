"""The baselines tuned per cell on validation phantoms: the search, its answer on known cells,
the record, and the validation phantoms kept apart from the test phantoms; TV's PGD to a
tolerance."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import REPO

from fmeval.ct.metrics import score_images
from fmeval.ct.phantoms import generate_phantoms, make_phantoms, phantom_ids
from fmeval.ct.radon import radon_matrix, write_matrix
from fmeval.ct.reconstruction import make_solver, reconstruct
from fmeval.ct.sweep import NoiseLevel
from fmeval.ct.tomography import build_operator, simulate_sinograms, stock_operator
from fmeval.ct.tuned import apply_tuning
from fmeval.ct.tuning import mean_psnr, run_tuning, search_filter, search_lam
from fmeval.ct.tv import TVSolver
from fmeval.errors import DataError

CLEAN = NoiseLevel("clean", 0, 0)
LOW = NoiseLevel("low", 0.001, 0.001)
HIGH = NoiseLevel("high", 0.01, 0.01)
NORMS = json.loads((REPO / "tests/fixtures/operator_norms.json").read_text())["norms"]
TV = {"n_iter": 20, "prox_iter": 10, "tol": 0.0}


def test_search_lam_finds_the_peak_of_a_concave_curve_within_its_budget():
    calls = []

    def score(lam):
        calls.append(lam)
        return -((math.log10(lam) + 2.3) ** 2)

    lam, trace = search_lam(score, lam_range=[1e-5, 1e-1], grid=5, refine=8)
    assert len(calls) == len(trace) <= 5 + 8
    assert abs(math.log10(lam) + 2.3) < 0.05  # 1 decade narrowed by 0.618**7
    assert lam == max(trace, key=lambda t: t[1])[0]


def test_search_lam_on_a_falling_curve_stays_at_the_bottom():
    lam, trace = search_lam(lambda lam: -lam, lam_range=[1e-4, 1e-1], grid=4, refine=3)
    assert lam == pytest.approx(1e-4) and len(trace) == 4 + 3


def test_search_filter_is_the_full_grid():
    best, trace = search_filter(
        lambda w, s: {"hann": 1.0, "ram-lak": 0.0}[w] - abs(s - 0.5),
        windows=["ram-lak", "hann"],
        scalings=[0.3, 0.5, 1.0],
    )
    assert best == ("hann", 0.5) and len(trace) == 6


@pytest.fixture(scope="module")
def tuned_cell(tmp_path_factory):
    """run_tuning (rule tune_baseline) for TV at 20 views, low noise, on 2 validation phantoms."""
    root = tmp_path_factory.mktemp("tuning")
    make_phantoms(n_phantoms=2, part="validation", phantoms=root / "validation.npy")
    write_matrix(radon_matrix(20), root / "20.npz")
    (root / "20.json").write_text(json.dumps({"views": 20, "operator_norm": NORMS["20"]}))
    options = {"lam": "tune", **TV}
    search = {"n_validation": 2, "lam_range": [1e-2, 1.0], "lam_grid": 3, "lam_refine": 2}
    record = run_tuning(
        method="tv", phantoms=str(root / "validation.npy"), operator=str(root / "20.json"),
        matrix=str(root / "20.npz"), views=20, noise=LOW, options=options, search=search,
        seed=0, batch_size=2, tuning=str(root / "tv.json"),
    )  # fmt: skip
    return record, root


def test_tuned_lam_beats_both_neighbours_on_the_validation_phantoms(tuned_cell):
    """The neighbours of the chosen lam among the evaluated ones, scored again by the
    pipeline's own TV and PSNR (not the search's numbers): the chosen lam is at least as good."""
    record, root = tuned_cell
    lams = sorted(e["lam"] for e in record["evaluations"])
    chosen = record["chosen"]["lam"]
    i = lams.index(chosen)
    assert 0 < i < len(lams) - 1, lams  # an interior optimum at 20 views, low noise
    gt = generate_phantoms(2, part="validation")
    physics = build_operator(20, operator_norm=NORMS["20"])
    stock = stock_operator(20, operator_norm=NORMS["20"])  # the data as the rule simulates it
    sino = simulate_sinograms(
        gt, stock, level=LOW, views=20, seed=0, batch_size=2, part="validation"
    )

    def psnr_at(lam):
        solver = make_solver("tv", options={**TV, "lam": lam})
        return score_images(gt, reconstruct(sino, physics, solver, batch_size=2))["psnr"].mean()

    best = psnr_at(chosen)
    assert best == pytest.approx(record["validation_psnr"], abs=1e-4)
    assert best >= psnr_at(lams[i - 1]) and best >= psnr_at(lams[i + 1])


def test_the_record_names_its_validation_phantoms_and_the_search(tuned_cell):
    record, root = tuned_cell
    assert record["validation_ids"] == ["validation:0", "validation:1"]
    assert record["n_evaluations"] == 3 + 2 and record["seconds"] > 0
    assert json.loads((root / "tv.json").read_text())["chosen"] == record["chosen"]
    options, summary = apply_tuning(
        {"lam": "tune", **TV}, str(root / "tv.json"), method="tv", views=20, noise="low"
    )
    assert options["lam"] == record["chosen"]["lam"] and summary["validation_ids"]
    with pytest.raises(DataError, match="not tv at 10, low"):
        apply_tuning({"lam": "tune"}, str(root / "tv.json"), method="tv", views=10, noise="low")
    assert apply_tuning({"lam": 0.01}, None, method="tv", views=20, noise="low")[1] is None


def test_noise_free_many_views_tunes_lam_to_the_bottom_of_its_range():
    """Clean data at 100 views: less regularisation is better (down to ~0.004 in 20 PGD steps,
    measured), so the search over [0.005, 0.5] ends at its smallest lam; the same search on
    noisy data (HIGH) ends higher, as the best lam grows with the noise."""
    gt = generate_phantoms(1, part="validation")
    physics = build_operator(100, operator_norm=NORMS["100"])
    chosen = {}
    for level in (CLEAN, HIGH):
        sino = simulate_sinograms(
            gt, physics, level=level, views=100, seed=0, batch_size=1, part="validation"
        )

        def score(lam, sino=sino):
            solver = make_solver("tv", options={**TV, "lam": lam})
            return mean_psnr(gt, reconstruct(sino, physics, solver, batch_size=1))

        chosen[level.name], trace = search_lam(score, lam_range=[5e-3, 0.5], grid=3, refine=2)
    assert chosen["clean"] == pytest.approx(5e-3), trace
    assert chosen["high"] > 2 * chosen["clean"], chosen


def test_validation_and_test_phantoms_never_overlap():
    test, validation = generate_phantoms(16), generate_phantoms(16, part="validation")
    assert not set(phantom_ids(16)) & set(phantom_ids(16, part="validation"))
    same = (np.abs(test[:, None] - validation[None]).reshape(16, 16, -1).max(-1) == 0).any()
    assert not same


def test_tv_stops_at_its_tolerance_per_phantom_whatever_the_batch():
    gt = generate_phantoms(3)
    physics = build_operator(20, operator_norm=NORMS["20"])
    sino = simulate_sinograms(gt, physics, level=LOW, views=20, seed=0, batch_size=3)
    opts = {"lam": 0.01, "n_iter": 60, "prox_iter": 10, "tol": 1e-2}
    together = TVSolver(**opts)
    images = reconstruct(sino, physics, together, batch_size=3)
    assert len(together.iterations) == 3 and all(np.isfinite(together.objective))
    assert min(together.iterations) < 60 and all(together.converged) == (
        max(together.iterations) < 60
    )
    alone = TVSolver(**opts)
    first = reconstruct(sino[:1], physics, alone, batch_size=1)
    assert alone.iterations[0] == together.iterations[0]
    np.testing.assert_allclose(first[0], images[0], rtol=1e-5, atol=1e-5)


def test_tv_objective_is_the_data_term_plus_lam_tv():
    import deepinv as dinv

    gt = generate_phantoms(1)
    physics = build_operator(20, operator_norm=NORMS["20"])
    y = torch.from_numpy(simulate_sinograms(gt, physics, level=LOW, views=20, seed=0, batch_size=1))
    solver = TVSolver(lam=0.02, n_iter=5, prox_iter=5)
    with torch.inference_mode():
        x = solver(y, physics)
        data = 0.5 * (physics.A(x) - y).pow(2).sum()
        tv = dinv.optim.TVPrior().fn(x).sum()
    assert solver.objective[0] == pytest.approx(float(data + 0.02 * tv), rel=1e-5)
    assert solver.iterations == [5] and solver.converged == [False]
