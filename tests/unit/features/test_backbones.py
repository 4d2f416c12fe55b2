"""Backbones: torchhub (the official DINOv2 hub code) and timm, random init, weights, errors."""

import copy
import json
import socket
import time

import pytest
import torch
from conftest import OFFICIAL_DINOV2_HUB

from fmeval.errors import ConfigError, SourceError
from fmeval.features.backbones import create_backbone, fetch_model, load_manifest, run_backbone
from fmeval.features.models import ModelSpec, check_spec
from fmeval.io.sources import sha256_file

SPECS = {
    "torchhub": {
        "backend": "torchhub",
        "name": "dinov2_vits14",
        "repo": str(OFFICIAL_DINOV2_HUB),
        "patch_size": 14,
    },
    "timm": {"backend": "timm", "name": "vit_small_patch14_dinov2.lvd142m", "patch_size": 14},
}


def build(tmp_path, backend: str, weights: str = "random", key: str = "vits"):
    if backend == "torchhub" and not OFFICIAL_DINOV2_HUB.is_dir():
        pytest.skip(f"{OFFICIAL_DINOV2_HUB} is absent")
    spec = ModelSpec.from_config(key, {**SPECS[backend], "weights": weights})
    out = tmp_path / "resources" / "models" / f"{key}.json"
    fetch_model(spec, cache_dir=tmp_path / "resources", manifest=out)
    spec, record = load_manifest(out)
    return spec, record, create_backbone(spec, record)


def images(batch: int = 2, rows: int = 2, cols: int = 3, *, seed: int = 0) -> torch.Tensor:
    return torch.randn(
        batch, 3, rows * 14, cols * 14, generator=torch.Generator().manual_seed(seed)
    )


@pytest.fixture(scope="module", params=["torchhub", "timm"])
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def built(backend, tmp_path_factory):
    """One random-init build per backend, shared by the tests of this module."""
    return build(tmp_path_factory.mktemp(backend), backend)


@pytest.mark.parametrize(("batch", "rows", "cols"), [(1, 2, 2), (2, 2, 3), (3, 4, 1)])
def test_shapes(built, batch, rows, cols):
    spec, record, model = built
    assert record["weights_id"] == "random-init" and record["weights_file"] is None
    with torch.inference_mode():
        patches, cls = run_backbone(spec, model, images(batch, rows, cols))
    assert patches.shape == (batch, 384, rows, cols)
    assert cls.shape == (batch, 384)
    assert torch.isfinite(patches).all() and torch.isfinite(cls).all()


def test_random_init_is_deterministic(tmp_path, backend, built):
    x = images()
    outs = []
    for spec, _, model in (built, build(tmp_path, backend)):
        torch.manual_seed(1234)  # later global RNG use must not matter
        with torch.inference_mode():
            outs.append(run_backbone(spec, model, x))
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=0, atol=0)
    torch.testing.assert_close(outs[0][1], outs[1][1], rtol=0, atol=0)


def test_last_block_without_final_norm(backend, built):
    """Patch tokens are the last block's output before the final LayerNorm."""
    spec, _, model = built
    x = images(1)
    with torch.inference_mode():
        patches, cls = run_backbone(spec, model, x)
        if backend == "torchhub":  # the official DINOv2 code
            raw, prefix = model.prepare_tokens_with_masks(x), 1 + model.num_register_tokens
        else:
            raw, prefix = model._pos_embed(model.patch_embed(x)), model.num_prefix_tokens
        for block in model.blocks:
            raw = block(raw)
        normed = model.norm(raw)
        tokens = model.forward_features(x)  # the model's own normed output
    torch.testing.assert_close(cls[0], raw[0, 0])
    torch.testing.assert_close(patches[0].flatten(1).T, raw[0, prefix:])
    assert not torch.allclose(normed, raw)
    if backend == "torchhub":
        torch.testing.assert_close(tokens["x_norm_patchtokens"], normed[:, prefix:])
    else:
        torch.testing.assert_close(tokens, normed)


def test_weights_file_is_loaded_and_identified_by_sha256(tmp_path, backend, built):
    source = copy.deepcopy(built[2])
    with torch.no_grad():  # make the weights differ from the seeded random init
        for p in source.parameters():
            p.add_(0.01 * torch.randn_like(p))
    state = source.state_dict()
    if backend == "timm":
        path = tmp_path / "vits.pth"
    else:
        path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(state, path)
    spec, record, model = build(tmp_path / "dst", backend, weights=str(path))
    assert record["weights_id"] == f"sha256:{sha256_file(path)}"
    assert record["weights_file"] == str(path.resolve())
    x = images()
    with torch.inference_mode():
        want, got = run_backbone(spec, source.eval(), x), run_backbone(spec, model, x)
        rand = run_backbone(spec, built[2], x)
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])
    assert not torch.allclose(rand[0], want[0])


def test_weights_that_do_not_fit_are_a_config_error(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"not": torch.zeros(3)}, path)
    with pytest.raises(
        ConfigError, match=r"model 'vits': weights .*wrong\.pth do not load into dinov2_vits14"
    ):
        build(tmp_path, "torchhub", weights=str(path))


def test_missing_weights_file_is_a_config_error(tmp_path):
    spec = ModelSpec.from_config("vits", {**SPECS["timm"], "weights": str(tmp_path / "nope.pth")})
    with pytest.raises(
        ConfigError, match=r"weights file .*nope\.pth.* does not exist.*`models\.vits\.weights`"
    ):
        check_spec(spec)


# --- config errors ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dinov2_vitq14", "dinov2_vits16"])
def test_unknown_torchhub_name(name):
    spec = ModelSpec.from_config("m", {"backend": "torchhub", "name": name, "patch_size": 14})
    with pytest.raises(
        ConfigError,
        match=rf"^models\.m\.name: facebookresearch/dinov2 has no entry point '{name}'; "
        "closest: dinov2_vit",
    ):
        check_spec(spec)


def test_unknown_timm_name(tmp_path):
    spec = ModelSpec.from_config(
        "m", {"backend": "timm", "name": "vit_nonexistent_patch14", "patch_size": 14}
    )
    with pytest.raises(
        ConfigError,
        match=r"^models\.m\.name: timm [\d.]+ has no model 'vit_nonexistent_patch14'; closest: ",
    ):
        fetch_model(spec, cache_dir=tmp_path, manifest=tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_unknown_backend():
    spec = ModelSpec.from_config("m", {"backend": "onnx", "patch_size": 14})
    with pytest.raises(ConfigError, match=r"^models\.m\.backend: unknown backend 'onnx'"):
        check_spec(spec)


def test_patch_size_must_match_the_hub_model():
    spec = ModelSpec.from_config(
        "m", {"backend": "torchhub", "name": "dinov2_vits14", "patch_size": 16}
    )
    with pytest.raises(
        ConfigError,
        match=r"^models\.m\.patch_size: is 16, but dinov2_vits14 has patch size 14; set it to 14",
    ):
        check_spec(spec)


# --- offline fetches --------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Every TCP connection fails as on a machine without a network."""
    attempts = []

    def refuse(self, address, *args, **kwargs):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError(101, "Network is unreachable (blocked by the test)")
        return real_connect(self, address, *args, **kwargs)

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("203.0.113.1", 443))],
    )
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    return attempts


def test_offline_torchhub_github_fetch_is_one_clear_error(tmp_path, no_network):
    spec = ModelSpec.from_config(
        "dinov2_vits14", {"patch_size": 14}
    )  # official github repo, pretrained
    out = tmp_path / "resources" / "models" / "dinov2_vits14.json"
    start = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetch_model(spec, cache_dir=tmp_path / "resources", manifest=out)
    assert time.monotonic() - start < 15  # fails fast
    message = str(err.value)
    assert "https://github.com/facebookresearch/dinov2" in message
    assert "`models.dinov2_vits14.repo`" in message and "`models.dinov2_vits14.weights`" in message
    assert (
        "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth" in message
    )
    assert "{" not in message  # no unformatted placeholders
    assert no_network and not out.exists()


def test_offline_timm_pretrained_fetch_is_one_clear_error(tmp_path, no_network):
    spec = ModelSpec.from_config("vits", {**SPECS["timm"], "weights": "pretrained"})
    start = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetch_model(spec, cache_dir=tmp_path / "resources", manifest=tmp_path / "vits.json")
    assert time.monotonic() - start < 15  # no half-minute of retries
    message = str(err.value)
    assert "https://huggingface.co/timm/vit_small_patch14_dinov2.lvd142m" in message
    assert "`models.vits.weights`" in message


def test_manifest_round_trip(tmp_path):
    if not OFFICIAL_DINOV2_HUB.is_dir():
        pytest.skip(f"{OFFICIAL_DINOV2_HUB} is absent")
    spec = ModelSpec.from_config("vits", {**SPECS["torchhub"], "weights": "random"})
    record = fetch_model(spec, cache_dir=tmp_path / "resources", manifest=tmp_path / "vits.json")
    saved = json.loads((tmp_path / "vits.json").read_text())
    assert saved.pop("paths_relative_to") == "."  # the working directory, from the manifest
    assert (
        saved == record
        and saved["key"] == "vits"
        and load_manifest(tmp_path / "vits.json")[0] == spec
    )
    assert (
        saved["repo_dir"] == str(OFFICIAL_DINOV2_HUB.resolve())
        and saved["weights_id"] == "random-init"
    )


def test_fetched_resources_can_move(tmp_path, backend, built):
    """A seeded resources/ copied elsewhere (an offline machine) still loads."""
    cache = tmp_path / "a" / "resources"
    ckpt = cache / "torch" / "hub" / "checkpoints" / "dinov2_vits14_pretrain.pth"
    ckpt.parent.mkdir(parents=True)
    torch.save(built[2].state_dict(), ckpt)
    spec = ModelSpec.from_config("vits", {**SPECS[backend], "weights": str(ckpt)})
    fetch_model(spec, cache_dir=cache, manifest=cache / "models" / "vits.json")
    saved = json.loads((cache / "models" / "vits.json").read_text())
    # relative to the working directory (the folder holding resources/)
    assert saved["weights_file"] == "resources/torch/hub/checkpoints/dinov2_vits14_pretrain.pth"
    if backend == "torchhub":
        # outside the cache: kept absolute
        assert saved["repo_dir"] == str(OFFICIAL_DINOV2_HUB.resolve())
    (tmp_path / "b").mkdir()
    moved = tmp_path / "b" / "resources"
    cache.rename(moved)
    _, record = load_manifest(moved / "models" / "vits.json")
    assert record["weights_file"] == str(
        (moved / "torch/hub/checkpoints/dinov2_vits14_pretrain.pth").resolve()
    )
    assert record["weights_id"] == f"sha256:{sha256_file(record['weights_file'])}"
    spec, record = load_manifest(moved / "models" / "vits.json")
    x = images(1)
    with torch.inference_mode():
        got, want = (
            run_backbone(spec, create_backbone(spec, record), x),
            run_backbone(spec, built[2], x),
        )
    torch.testing.assert_close(got[0], want[0])
