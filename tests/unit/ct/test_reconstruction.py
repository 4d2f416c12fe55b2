"""Reconstruction quality (FBP, TV), RAM weights, and the method registry, on seeded phantoms.

The operator norms (deepinv's seeded power iteration) come from tests/fixtures/operator_norms.json.
"""

import copy
import json

import numpy as np
import pytest
import torch
from conftest import REPO
from reference_ct import stock_tv

from fmeval.ct.metrics import score_images
from fmeval.ct.phantoms import generate_phantoms
from fmeval.ct.ramweights import fetch_ram_weights, load_ram, load_ram_file, read_ram_manifest
from fmeval.ct.reconstruction import make_solver, reconstruct, to_fast_layout
from fmeval.ct.sweep import NoiseLevel
from fmeval.ct.tomography import build_operator, simulate_sinograms
from fmeval.errors import ConfigError

CLEAN = NoiseLevel("clean", 0, 0)
LOW = NoiseLevel("low", 0.001, 0.001)
HIGH = NoiseLevel("high", 0.01, 0.01)


@pytest.fixture(scope="module")
def phantoms() -> np.ndarray:
    return generate_phantoms(8)


@pytest.fixture(scope="module")
def operators() -> dict:
    """The operators at 1000, 100, 20 and 10 views, with deepinv's seeded norms from
    tests/fixtures/operator_norms.json (perf/operator_norms.py writes it; test_tomography checks
    it against a fresh measurement)."""
    norms = json.loads((REPO / "tests/fixtures/operator_norms.json").read_text())["norms"]
    return {
        views: build_operator(views, operator_norm=norms[str(views)])
        for views in (1000, 100, 20, 10)
    }


def scores(phantoms, physics, method, *, level=CLEAN, views, n=None, **options):
    gt = phantoms[:n]
    sino = simulate_sinograms(gt, physics, level=level, views=views, seed=0, batch_size=8)
    images = reconstruct(sino, physics, make_solver(method, options=options), batch_size=8)
    assert images.dtype == np.float32 and images.shape == gt.shape
    return score_images(gt, images)


@pytest.fixture(scope="module")
def fbp_clean(phantoms, operators) -> dict:
    return {
        views: scores(phantoms, operators[views], "fbp", views=views) for views in (1000, 100, 10)
    }


def test_fbp_at_1000_noiseless_views_is_above_30_db(fbp_clean):
    assert fbp_clean[1000]["psnr"].mean() >= 30.0  # 31.1 dB measured


def test_ssim_falls_with_fewer_views(fbp_clean):
    ssim = [fbp_clean[v]["ssim"].mean() for v in (1000, 100, 10)]
    assert ssim[0] > ssim[1] > ssim[2], ssim


@pytest.mark.parametrize("metric", ["psnr", "ssim"])
def test_noisy_scores_below_clean(phantoms, operators, fbp_clean, metric):
    low = scores(phantoms, operators[100], "fbp", level=LOW, views=100)
    high = scores(phantoms, operators[100], "fbp", level=HIGH, views=100)
    assert fbp_clean[100][metric].mean() > low[metric].mean() > high[metric].mean()


def test_tv_beats_fbp_at_20_views(phantoms, operators):
    fbp = scores(phantoms, operators[20], "fbp", views=20, n=4)
    tv = scores(phantoms, operators[20], "tv", views=20, n=4, lam=0.01, n_iter=30, prox_iter=20)
    assert tv["psnr"].mean() > fbp["psnr"].mean() + 2.0, (tv["psnr"].mean(), fbp["psnr"].mean())


@pytest.mark.parametrize(("views", "level"), [(20, CLEAN), (10, HIGH)])
def test_tv_matches_stock_deepinv_pgd(phantoms, operators, views, level):
    """Our TV (A^T(Ax - y), no cost evaluation, in-place TV denoiser) gives deepinv's stock
    PGD iterates."""
    physics = operators[views]
    sino = simulate_sinograms(phantoms[:4], physics, level=level, views=views, seed=0, batch_size=4)
    y = torch.from_numpy(sino)
    calls = {"A": 0, "A_adjoint": 0}

    def counted(name):
        fn = getattr(physics, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    with torch.inference_mode():
        stock = stock_tv(lam=0.01, n_iter=10, prox_iter=10)(y, physics)
        with pytest.MonkeyPatch.context() as mp:
            for name in calls:
                mp.setattr(physics, name, counted(name))
            ours = make_solver("tv", options={"lam": 0.01, "n_iter": 10, "prox_iter": 10})(
                y, physics
            )
    torch.testing.assert_close(ours, stock, rtol=1e-4, atol=1e-5)
    # One A and one A^T per step (+ the FBP start and the initial objective's A).
    assert calls["A"] <= 10 + 1 and calls["A_adjoint"] <= 10 + 1, calls


def test_ram_in_channels_last_layout_gives_the_same_images(phantoms, operators):
    """The pipeline's RAM runs channels-last on the CPU (to_fast_layout): float rounding only."""
    physics = operators[10]
    sino = simulate_sinograms(phantoms[:2], physics, level=LOW, views=10, seed=0, batch_size=2)
    model = random_ram().eval()
    plain = reconstruct(sino, physics, make_solver("ram", model=model), batch_size=2)
    fast = to_fast_layout(copy.deepcopy(model))
    kernels = [p for p in fast.parameters() if p.ndim == 4]
    assert kernels and all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)
    images = reconstruct(sino, physics, make_solver("ram", model=fast), batch_size=2)
    assert np.abs(images - plain).max() <= 1e-5 * np.ptp(plain)  # ~1e-6 measured


def test_reconstruction_is_deterministic(phantoms, operators):
    a = scores(phantoms, operators[10], "tv", views=10, n=2, lam=0.01, n_iter=5, prox_iter=5)
    b = scores(phantoms, operators[10], "tv", views=10, n=2, lam=0.01, n_iter=5, prox_iter=5)
    assert a.equals(b)


# --- RAM ---------------------------------------------------------------------------


def random_ram(seed: int = 3) -> torch.nn.Module:
    import deepinv as dinv

    torch.manual_seed(seed)
    return dinv.models.RAM(pretrained=False)


def test_ram_weights_load_from_a_local_file(tmp_path):
    model = random_ram()
    torch.save(model.state_dict(), tmp_path / "ram.pt")
    record = fetch_ram_weights(
        weights=str(tmp_path / "ram.pt"), cache_dir=tmp_path, manifest=tmp_path / "ram.json"
    )
    assert record["random_init"] is False and record["weights_id"].startswith("sha256:")
    assert read_ram_manifest(tmp_path / "ram.json") == record
    loaded = load_ram(read_ram_manifest(tmp_path / "ram.json"))
    assert not loaded.training
    state, expected = loaded.state_dict(), model.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[k], expected[k]) for k in expected)


def test_ram_weights_of_another_architecture_are_a_config_error(tmp_path):
    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "linear.pt")
    with pytest.raises(ConfigError, match="do not load into deepinv's RAM"):
        load_ram_file(tmp_path / "linear.pt")
    with pytest.raises(ConfigError, match="do not load"):
        fetch_ram_weights(
            weights=str(tmp_path / "linear.pt"), cache_dir=tmp_path, manifest=tmp_path / "ram.json"
        )
    assert not (tmp_path / "ram.json").exists()


def test_random_ram_is_flagged_and_seeded(tmp_path, phantoms, operators):
    record = fetch_ram_weights(weights="random", cache_dir=tmp_path, manifest=tmp_path / "ram.json")
    assert record["random_init"] is True and record["weights_id"] == "random-init"
    a, b = load_ram(record, seed=0), load_ram(record, seed=0)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    physics = operators[10]
    sino = simulate_sinograms(phantoms[:1], physics, level=CLEAN, views=10, seed=0, batch_size=1)
    out = reconstruct(sino, physics, make_solver("ram", model=a), batch_size=1)
    assert out.shape == (1, 128, 128) and np.isfinite(out).all()


def test_pretrained_weights_offline_are_one_source_error(tmp_path, monkeypatch):
    import fmeval.ct.ramweights as ramweights
    from fmeval.errors import SourceError

    # nothing listens on port 9 of this machine: refused at once, as offline
    monkeypatch.setattr(ramweights, "RAM_URL", "https://127.0.0.1:9/ram.pth.tar")
    with pytest.raises(SourceError, match="ct.ram.weights"):
        fetch_ram_weights(weights="pretrained", cache_dir=tmp_path, manifest=tmp_path / "ram.json")
    assert not (tmp_path / "ram.json").exists()


def test_reconstruction_logs_images_done(monkeypatch, caplog):
    import logging
    from functools import partial

    from fmeval.ct import reconstruction
    from fmeval.progress import Progress

    monkeypatch.setattr(reconstruction, "Progress", partial(Progress, every=0))
    sinograms = np.zeros((5, 1, 6, 4), dtype=np.float32)
    with caplog.at_level(logging.INFO, logger="fmeval"):
        out = reconstruct(sinograms, None, lambda y, physics: y + 1, batch_size=2)
    assert out.shape == (5, 6, 4) and (out == 1).all()
    got = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reconstruct: ")]
    assert [line.split()[1] for line in got] == ["2/5", "4/5", "5/5"]
    assert "done in" in got[-1]
