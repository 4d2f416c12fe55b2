"""The sparse operator is deepinv's Tomography: A, A^T, FBP, the norm, RAM and TV outputs."""

import numpy as np
import pytest
import scipy.sparse
import torch

from fmeval.ct.operator import measure_norm
from fmeval.ct.phantoms import generate_phantoms
from fmeval.ct.radon import RadonMatrix, radon_matrix, read_matrix, write_matrix
from fmeval.ct.reconstruction import make_solver, reconstruct
from fmeval.ct.sweep import NoiseLevel
from fmeval.ct.tomography import (
    build_operator,
    measure_operator_norm,
    noise_model,
    simulate_sinograms,
    stock_operator,
)
from fmeval.errors import DataError

LOW = NoiseLevel("low", 0.001, 0.001)
VIEWS = (10, 20, 50)  # stock deepinv measures each norm by power iteration (1000: unnormalised)
RTOL = 1e-5  # relative error in the 2-norm; float32 rounding gives ~3e-7


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def phantoms() -> np.ndarray:
    return generate_phantoms(4)


@pytest.fixture(scope="module")
def pairs() -> dict:
    """(ours, stock deepinv) per view count, each with its own measured norm."""
    out = {}
    for views in VIEWS:
        matrix = radon_matrix(views)
        ours = build_operator(views, operator_norm=measure_norm(matrix), matrix=matrix)
        stock = stock_operator(views, operator_norm=measure_operator_norm(views, seed=0))
        out[views] = ours, stock
    return out


@pytest.mark.parametrize("views", VIEWS)
def test_norm_equals_deepinvs(pairs, views):
    ours, stock = pairs[views]
    assert float(ours.operator_norm) == pytest.approx(float(stock.operator_norm), rel=RTOL)


@pytest.mark.parametrize("views", VIEWS)
def test_a_adjoint_and_fbp_equal_deepinvs(pairs, phantoms, views):
    ours, stock = pairs[views]
    x = torch.from_numpy(phantoms).unsqueeze(1)
    with torch.inference_mode():
        y = stock.A(x)
        assert ours.A(x).shape == y.shape == (4, 1, 182, views)
        assert rel(ours.A(x), y) < RTOL
        noisy = y + 0.01 * torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
        assert rel(ours.A_adjoint(noisy), stock.A_adjoint(noisy)) < RTOL
        assert rel(ours.fbp(noisy), stock.fbp(noisy)) < RTOL
        assert rel(ours.A_dagger(noisy, fbp=True), stock.A_dagger(noisy, fbp=True)) < RTOL
    # A single image (no batch, channel dims) goes through too.
    assert rel(ours.A(x[0, 0]), y[0, 0]) < RTOL


def test_adjoint_is_the_transpose(pairs):
    ours, _ = pairs[20]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((2, 1, 128, 128), generator=gen)
    y = torch.randn((2, 1, 182, 20), generator=gen)
    with torch.inference_mode():
        lhs = (ours.A(x) * y).sum(dtype=torch.float64)
        rhs = (x * ours.A_adjoint(y)).sum(dtype=torch.float64)
    assert float(lhs) == pytest.approx(float(rhs), rel=1e-5)


def test_unnormalised_1000_view_matrix_equals_deepinvs_radon(phantoms):
    """deepinv's A and its autograd A^T without the norm (its power iteration costs minutes)."""
    matrix = radon_matrix(1000)
    ours = build_operator(1000, operator_norm=1.0, matrix=matrix)
    stock = stock_operator(1000, operator_norm=1.0)
    x = torch.from_numpy(phantoms[:1]).unsqueeze(1)
    with torch.inference_mode():
        y = stock.A(x)
        assert rel(ours.A(x), y) < RTOL
        assert rel(ours.A_adjoint(y), stock.A_adjoint(y)) < RTOL


@pytest.mark.parametrize("views", [10, 20])
def test_tv_outputs_equal_todays(pairs, phantoms, views):
    ours, stock = pairs[views]
    sino = simulate_sinograms(phantoms, stock, level=LOW, views=views, seed=0, batch_size=4)
    solver = make_solver("tv", options={"lam": 0.01, "n_iter": 30, "prox_iter": 20})
    a = reconstruct(sino, ours, solver, batch_size=4)
    b = reconstruct(sino, stock, solver, batch_size=4)
    assert rel(torch.from_numpy(a), torch.from_numpy(b)) < 1e-5
    np.testing.assert_allclose(a, b, rtol=0, atol=5e-5)  # images in [0, 1]; ~1e-5 measured


@pytest.mark.parametrize("views", [10, 50])
def test_random_ram_outputs_equal_todays(pairs, phantoms, views):
    import deepinv as dinv

    torch.manual_seed(3)
    model = dinv.models.RAM(pretrained=False).eval()
    ours, stock = pairs[views]
    ours.noise_model = stock.noise_model = noise_model(LOW)
    # one phantom is enough to compare the two operators under RAM (its U-Net, run per image,
    # is most of this test's time)
    sino = simulate_sinograms(phantoms[:1], stock, level=LOW, views=views, seed=0, batch_size=1)
    solver = make_solver("ram", model=model)
    a = reconstruct(sino, ours, solver, batch_size=1)
    b = reconstruct(sino, stock, solver, batch_size=1)
    # RAM's CG and U-Net amplify float rounding: ~3e-5 relative measured alone (random
    # weights), 9.8e-4 once inside the full suite (another worker's thread state); the
    # operator itself is pinned to 1e-5 by the FBP and TV tests above
    assert rel(torch.from_numpy(a), torch.from_numpy(b)) < 2e-3


def test_matrix_round_trips_through_its_file(tmp_path):
    matrix = radon_matrix(10)
    write_matrix(matrix, tmp_path / "10.npz")
    back = read_matrix(tmp_path / "10.npz", views=10)
    assert isinstance(back, RadonMatrix) and back.shape == matrix.shape == (10 * 182, 128 * 128)
    assert all(torch.equal(getattr(back, k), getattr(matrix, k)) for k in ("crow", "col", "values"))
    assert [p.name for p in tmp_path.iterdir()] == ["10.npz"]
    # the file holds A^T too (read, not recomputed), and it is A's transpose
    assert back.stored_transpose is not None
    a = scipy.sparse.csr_array((back.values, back.col, back.crow), shape=back.shape).toarray()
    crow_t, col_t, values_t = back.transposed()
    t = scipy.sparse.csr_array((values_t, col_t, crow_t), shape=back.shape[::-1]).toarray()
    assert np.array_equal(t, a.T)


def test_a_file_without_the_transpose_still_reads(tmp_path):
    """Operator files written before A^T was stored: A^T is computed on reading, the same."""
    matrix = radon_matrix(10)
    arrays = {k: v for k, v in matrix.arrays().items() if not k.endswith("_t")}
    np.savez(tmp_path / "old.npz", **arrays)
    old, new = read_matrix(tmp_path / "old.npz", views=10), matrix
    assert old.stored_transpose is None
    assert all(torch.equal(a, b) for a, b in zip(old.transposed(), new.transposed(), strict=True))


def test_a_bad_or_mismatched_matrix_file_is_one_data_error(tmp_path):
    write_matrix(radon_matrix(10), tmp_path / "10.npz")
    with pytest.raises(DataError, match="is for 10 views, not 20; rerun measure_operator"):
        read_matrix(tmp_path / "10.npz", views=20)
    arrays = radon_matrix(10).arrays()
    arrays["col"][7] = 128 * 128  # a column past the image: torch would read out of bounds
    np.savez(tmp_path / "corrupt.npz", **arrays)
    with pytest.raises(DataError, match="corrupt.npz.*inconsistent CSR arrays of A "):
        read_matrix(tmp_path / "corrupt.npz")
    arrays = radon_matrix(10).arrays()
    arrays["col_t"][7] = 10 * 182  # a column of A^T past the sinogram
    np.savez(tmp_path / "corrupt_t.npz", **arrays)
    with pytest.raises(DataError, match="corrupt_t.npz.*inconsistent CSR arrays of A\\^T"):
        read_matrix(tmp_path / "corrupt_t.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz.*rerun measure_operator"):
        read_matrix(tmp_path / "bad.npz")
    with pytest.raises(DataError, match="is for 10 views, not 20"):
        build_operator(20, operator_norm=1.0, matrix=tmp_path / "10.npz")
