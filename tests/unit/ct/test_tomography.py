"""Phantoms, the operator with its stored norm, and seeded sinogram noise."""

import json

import numpy as np
import pytest
import torch
from conftest import REPO

from fmeval.ct.phantoms import generate_phantoms, load_phantoms, make_phantoms
from fmeval.ct.sweep import NoiseLevel
from fmeval.ct.tomography import (
    build_operator,
    measure_operator_norm,
    noise_seed,
    run_simulation,
    simulate_sinograms,
    stock_operator,
    write_operator,
)

VIEWS = 20
LOW = NoiseLevel("low", 0.001, 0.001)


@pytest.fixture(scope="module")
def phantoms() -> np.ndarray:
    return generate_phantoms(6)


@pytest.fixture(scope="module")
def norm() -> float:
    return measure_operator_norm(VIEWS, seed=0)


def test_cached_norms_are_deepinvs():
    """tests/fixtures/operator_norms.json holds deepinv's seeded norms (checked where cheap)."""
    record = json.loads((REPO / "tests/fixtures/operator_norms.json").read_text())
    for views in (10, 20):
        assert record["norms"][str(views)] == pytest.approx(
            measure_operator_norm(views, seed=0), rel=1e-6
        )


@pytest.fixture(scope="module")
def physics(norm):
    return build_operator(VIEWS, operator_norm=norm)


def test_phantoms_are_seeded_float32_in_unit_range(phantoms):
    assert phantoms.shape == (6, 128, 128) and phantoms.dtype == np.float32
    assert phantoms.min() == 0.0 and phantoms.max() == 1.0
    assert np.array_equal(generate_phantoms(6), phantoms)


def test_more_phantoms_keep_the_earlier_ones(phantoms):
    assert np.array_equal(generate_phantoms(3), phantoms[:3])


def test_make_phantoms_writes_npy(tmp_path, phantoms):
    make_phantoms(n_phantoms=6, phantoms=tmp_path / "p.npy")
    assert np.array_equal(load_phantoms(tmp_path / "p.npy"), phantoms)
    assert [p.name for p in tmp_path.iterdir()] == ["p.npy"]


def test_operator_norm_ignores_the_global_rng(norm):
    torch.manual_seed(1234)
    state = torch.random.get_rng_state()
    assert measure_operator_norm(VIEWS, seed=0) == norm
    assert torch.equal(torch.random.get_rng_state(), state), (
        "the caller's RNG state must be left alone"
    )
    torch.rand(17)
    assert measure_operator_norm(VIEWS, seed=0) == norm


def test_stored_norm_operator_equals_deepinvs_normalised_one(physics, norm, phantoms):
    import deepinv as dinv

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reference = dinv.physics.Tomography(img_width=128, angles=VIEWS, normalize=True)
    physics = stock_operator(
        VIEWS, operator_norm=norm, parallel_computation=True
    )  # deepinv's default
    x = torch.from_numpy(phantoms[:2]).unsqueeze(1)
    with torch.inference_mode():
        y = reference.A(x)
        assert float(reference.operator_norm) == norm
        assert torch.equal(physics.A(x), y)
        assert torch.equal(physics.A_adjoint(y), reference.A_adjoint(y))
        assert torch.equal(physics.fbp(y), reference.fbp(y))
    # unit norm, as RAM expects (the pipeline's sparse operator)
    physics = build_operator(VIEWS, operator_norm=norm)
    assert physics.compute_sqnorm(x[:1], max_iter=50, tol=1e-4, verbose=False) == pytest.approx(
        1.0, rel=1e-2
    )


def test_angle_loop_and_single_grid_sample_are_the_same_operator(norm, phantoms):
    physics = stock_operator(VIEWS, operator_norm=norm, parallel_computation=False)
    fused = stock_operator(VIEWS, operator_norm=norm, parallel_computation=True)
    x = torch.from_numpy(phantoms[:2]).unsqueeze(1)
    with torch.inference_mode():
        y = fused.A(x)
        torch.testing.assert_close(physics.A(x), y, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(physics.A_adjoint(y), fused.A_adjoint(y), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(physics.fbp(y), fused.fbp(y), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("other", [dict(seed=1), dict(views=21), dict(noise="high"), dict(index=1)])
def test_noise_seeds_differ_per_cell_and_phantom(other):
    base = dict(seed=0, views=20, noise="low", index=0)
    assert noise_seed(**base) == noise_seed(**base)
    assert noise_seed(**base) != noise_seed(**{**base, **other})


def test_clean_sinograms_are_the_projections(physics, phantoms):
    sino = simulate_sinograms(
        phantoms[:2], physics, level=NoiseLevel("clean", 0, 0), views=VIEWS, seed=0, batch_size=2
    )
    with torch.inference_mode():
        expected = physics.A(torch.from_numpy(phantoms[:2]).unsqueeze(1)).numpy()
    assert sino.dtype == np.float32 and np.array_equal(sino, expected)


@pytest.mark.parametrize(
    "level", [LOW, NoiseLevel("gauss", 0, 0.01), NoiseLevel("poisson", 0.01, 0)]
)
def test_noise_is_seeded_and_independent_of_batching(physics, phantoms, level):
    a = simulate_sinograms(phantoms[:4], physics, level=level, views=VIEWS, seed=0, batch_size=4)
    b = simulate_sinograms(phantoms[:4], physics, level=level, views=VIEWS, seed=0, batch_size=3)
    c = simulate_sinograms(phantoms[:4], physics, level=level, views=VIEWS, seed=1, batch_size=4)
    clean = simulate_sinograms(
        phantoms[:4], physics, level=NoiseLevel("c", 0, 0), views=VIEWS, seed=0, batch_size=4
    )
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, clean)
    assert np.abs(a - clean).mean() < 0.5 * np.abs(clean).mean()  # noise, not garbage


def test_more_phantoms_leave_the_first_sinograms_identical(tmp_path):
    """n_phantoms 3 -> 6 through the rule's code path: the first 3 sinograms are byte-identical."""
    write_operator(views=VIEWS, seed=0, operator=tmp_path / "op.json", matrix=tmp_path / "op.npz")
    record = json.loads((tmp_path / "op.json").read_text())
    assert record["views"] == VIEWS and record["matrix_nnz"] > 0
    assert record["operator_norm"] == measure_operator_norm(VIEWS, seed=0)
    outs = {}
    for n in (3, 6):
        make_phantoms(n_phantoms=n, phantoms=tmp_path / f"p{n}.npy")
        run_simulation(
            phantoms=str(tmp_path / f"p{n}.npy"),
            operator=str(tmp_path / "op.json"),
            views=VIEWS,
            noise=NoiseLevel("low", 0.001, 0.001),
            seed=0,
            batch_size=4,
            sinograms=str(tmp_path / f"s{n}.npy"),
        )
        outs[n] = np.load(tmp_path / f"s{n}.npy")
    assert outs[6].shape == (6, 1, outs[3].shape[2], VIEWS)
    assert np.array_equal(outs[6][:3], outs[3])
