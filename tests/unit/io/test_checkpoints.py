"""Checkpoints are data, never code: every weights file fmeval loads is read with
``torch.load(weights_only=True)`` (or safetensors) into a network built without weights,
with strict key checking; a malicious pickle never runs, whatever its origin."""

import hashlib
import re
from pathlib import Path

import pytest
import torch
import yaml

from fmeval.errors import ConfigError, FmevalError

REPO = Path(__file__).resolve().parents[3]
HUB = REPO / "tests" / "fixtures" / "dinov2_hub"


class _Evil:
    """Unpickling this writes ``marker``: proof that a pickle ran code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def evil_checkpoint(path: Path, marker: Path, *, legacy: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"state_dict": {"weight": _Evil(marker)}}
    torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "PWNED"


@pytest.mark.parametrize("legacy", [False, True])
def test_the_malicious_pickle_is_live(tmp_path, marker, legacy):
    """The control: an unsafe load of the fixture does run code."""
    path = evil_checkpoint(tmp_path / "evil.pth", marker, legacy=legacy)
    torch.load(path, weights_only=False)
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("legacy", [False, True])
def test_read_state_dict_refuses_code(tmp_path, marker, legacy):
    from fmeval.io.checkpoints import read_state_dict

    path = evil_checkpoint(tmp_path / "evil.pth", marker, legacy=legacy)
    with pytest.raises(ConfigError) as info:
        read_state_dict(path, what="model 'm' weights", config_key="models.m.weights")
    assert not marker.exists()
    message = str(info.value)
    assert str(path) in message and "models.m.weights" in message and "tensors" in message


def _net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))


def test_safetensors_and_wrapped_state_dicts_load_strictly(tmp_path):
    from safetensors.torch import save_file

    from fmeval.io.checkpoints import load_weights

    src = _net()
    save_file(src.state_dict(), tmp_path / "w.safetensors")
    torch.save({"model": src.state_dict(), "epoch": 3}, tmp_path / "w.pth")
    for name in ("w.safetensors", "w.pth"):
        dst = load_weights(_net(), tmp_path / name, what="w", config_key="k")
        for a, b in zip(src.state_dict().values(), dst.state_dict().values(), strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("change", ["extra", "missing", "shape"])
def test_keys_are_checked_strictly(tmp_path, change):
    from fmeval.io.checkpoints import load_weights

    state = _net().state_dict()
    if change == "extra":
        state["head.weight"] = torch.zeros(1)
    elif change == "missing":
        del state["2.bias"]
    else:
        state["0.weight"] = torch.zeros(5, 5)
    torch.save(state, tmp_path / "w.pth")
    with pytest.raises(ConfigError) as info:
        load_weights(
            _net(), tmp_path / "w.pth", what="model 'm' weights", config_key="models.m.weights"
        )
    message = str(info.value)
    assert {"extra": "head.weight", "missing": "2.bias", "shape": "0.weight"}[change] in message
    assert "models.m.weights" in message


# --- the CT branch: RAM ------------------------------------------------------------------


def test_ram_cache_is_never_unpickled_unsafely(tmp_path, marker):
    from fmeval.ct.ramweights import RAM_FILE, fetch_ram_weights

    cache = tmp_path / "resources"
    evil_checkpoint(cache / "torch" / "hub" / "checkpoints" / RAM_FILE, marker)
    with pytest.raises(FmevalError) as info:
        fetch_ram_weights(weights="pretrained", cache_dir=cache, manifest=cache / "ct" / "ram.json")
    assert not marker.exists()
    assert RAM_FILE in str(info.value) and "ct.ram.weights" in str(info.value)
    assert not (cache / "ct" / "ram.json").exists()


@pytest.mark.parametrize("kind", ["path", "file-url"])
def test_ram_local_weights_are_never_unpickled_unsafely(tmp_path, marker, kind):
    from fmeval.ct.ramweights import fetch_ram_weights

    path = evil_checkpoint(tmp_path / "ram.pth", marker)
    weights = str(path) if kind == "path" else path.as_uri()
    with pytest.raises(FmevalError):
        fetch_ram_weights(
            weights=weights, cache_dir=tmp_path / "resources", manifest=tmp_path / "r.json"
        )
    assert not marker.exists()


@pytest.fixture(scope="module")
def ram_state(tmp_path_factory) -> Path:
    import deepinv as dinv

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("ram") / "ram.pth.tar"
    torch.save(dinv.models.RAM(pretrained=False).state_dict(), path)
    return path


def test_ram_pretrained_is_downloaded_by_fmeval_and_loaded_safely(
    tmp_path, ram_state, http_server, monkeypatch
):
    import fmeval.ct.ramweights as rw

    http_server.serve("ram.pth.tar", ram_state.read_bytes())
    monkeypatch.setattr(rw, "RAM_URL", http_server.url("ok/ram.pth.tar"))
    cache = tmp_path / "resources"
    record = rw.fetch_ram_weights(
        weights="pretrained", cache_dir=cache, manifest=cache / "ct" / "ram.json"
    )
    cached = cache / "torch" / "hub" / "checkpoints" / rw.RAM_FILE
    assert cached.read_bytes() == ram_state.read_bytes()
    assert record["weights_id"] == "sha256:" + hashlib.sha256(ram_state.read_bytes()).hexdigest()
    model = rw.load_ram(rw.read_ram_manifest(cache / "ct" / "ram.json"))
    expected = torch.load(ram_state, weights_only=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


# --- the backbones: torchhub and timm -----------------------------------------------------


def _spec(backend: str, weights: str, **kw):
    from fmeval.features.models import ModelSpec

    if backend == "timm":
        return ModelSpec(
            key="m", backend="timm", name="vit_small_patch14_dinov2", patch_size=14, weights=weights
        )
    return ModelSpec(
        key="m",
        backend="torchhub",
        name="dinov2_vits14",
        patch_size=14,
        weights=weights,
        repo=kw.get("repo", str(HUB)),
    )


@pytest.mark.parametrize("backend", ["torchhub", "timm"])
@pytest.mark.parametrize("kind", ["path", "file-url"])
def test_backbone_weights_paths_are_never_unpickled_unsafely(tmp_path, marker, backend, kind):
    from fmeval.features.backbones import create_backbone, fetch_model

    path = evil_checkpoint(tmp_path / "evil.pth", marker)
    spec = _spec(backend, str(path) if kind == "path" else path.as_uri())
    with pytest.raises(ConfigError) as info:
        fetch_model(
            spec,
            cache_dir=tmp_path / "resources",
            manifest=tmp_path / "resources" / "models" / "m.json",
        )
    assert "models.m.weights" in str(info.value)
    assert not marker.exists()
    manifest = {"repo_dir": str(HUB), "weights_file": str(path), "weights_id": "sha256:x"}
    with pytest.raises(ConfigError):
        create_backbone(spec, manifest)
    assert not marker.exists()


@pytest.fixture(scope="module")
def hub_state(tmp_path_factory) -> Path:
    torch.manual_seed(2)
    model = torch.hub.load(str(HUB), "dinov2_vits14", source="local", pretrained=False)
    path = tmp_path_factory.mktemp("hub") / "dinov2_vits14_pretrain.pth"
    torch.save(model.state_dict(), path)
    return path


def test_hub_pretrained_is_downloaded_by_fmeval_not_by_hub_code(
    tmp_path, hub_state, http_server, monkeypatch
):
    """The fixture hub raises on pretrained=True: the hub code only builds the network."""
    import fmeval.features.backbones as bb

    http_server.serve(hub_state.name, hub_state.read_bytes())
    monkeypatch.setattr(
        bb, "hub_checkpoint_url", lambda spec: http_server.url(f"ok/{hub_state.name}")
    )
    cache = tmp_path / "resources"
    spec = _spec("torchhub", "pretrained")
    record = bb.fetch_model(spec, cache_dir=cache, manifest=cache / "models" / "m.json")
    assert Path(record["weights_file"]).read_bytes() == hub_state.read_bytes()
    spec2, manifest = bb.load_manifest(cache / "models" / "m.json")
    model = bb.create_backbone(spec2, manifest)
    expected = torch.load(hub_state, weights_only=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_hub_cached_checkpoint_is_never_unpickled_unsafely(tmp_path, marker, monkeypatch):
    import fmeval.features.backbones as bb

    cache = tmp_path / "resources"
    url = "https://127.0.0.1:9/dinov2_vits14_pretrain.pth"
    monkeypatch.setattr(bb, "hub_checkpoint_url", lambda spec: url)
    evil_checkpoint(cache / "torch" / "hub" / "checkpoints" / "dinov2_vits14_pretrain.pth", marker)
    with pytest.raises(FmevalError):
        bb.fetch_model(
            _spec("torchhub", "pretrained"), cache_dir=cache, manifest=cache / "models" / "m.json"
        )
    assert not marker.exists()


def test_default_hub_repo_is_pinned_to_a_commit():
    from fmeval.features.models import DEFAULT_HUB_REPO

    assert re.fullmatch(r"facebookresearch/dinov2:[0-9a-f]{40}", DEFAULT_HUB_REPO)
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    models = schema["properties"]["models"]
    assert {entry["repo"] for entry in models["default"].values()} == {DEFAULT_HUB_REPO}
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert {entry["repo"] for entry in config["models"].values()} == {DEFAULT_HUB_REPO}
    readme = (REPO / "README.md").read_text()
    assert DEFAULT_HUB_REPO in readme and "runs that repo's code" in readme


# --- corrupt safetensors: one line naming the file and the fix (never "a bug") ---------------


def _corrupt_safetensors(path: Path, kind: str) -> Path:
    """A .safetensors file that does not read: random bytes, or a body cut short."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        path.write_bytes(bytes(range(256)) * 4)
    else:
        save_file({"w": torch.zeros(1000)}, path)
        path.write_bytes(path.read_bytes()[:-1000])
    return path


def _one_line_error(tmp_path, fn, **kwargs) -> str:
    """The log of ``fn`` run as a rule script: exactly one ERROR line, no traceback."""
    import logging

    from fmeval.logs import run_logged

    log = tmp_path / "job.log"
    try:
        with pytest.raises(SystemExit):
            run_logged(str(log), fn, **kwargs)
    finally:
        logging.getLogger().handlers.clear()
    text = log.read_text()
    assert "unexpected error" not in text and "Traceback" not in text, text
    assert len(text.strip().splitlines()) == 1, text
    return text


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
def test_corrupt_local_safetensors_is_one_line_naming_the_file(tmp_path, kind):
    from fmeval.features.backbones import fetch_model

    path = _corrupt_safetensors(tmp_path / "w.safetensors", kind)
    cache = tmp_path / "resources"
    text = _one_line_error(
        tmp_path,
        fetch_model,
        spec=_spec("timm", str(path)),
        cache_dir=cache,
        manifest=cache / "models" / "m.json",
    )
    assert f"{path} is not a readable safetensors file" in text, text
    assert "corrupt or truncated" in text and "`models.m.weights`" in text
    assert not (cache / "models" / "m.json").exists()


def test_corrupt_timm_cache_says_to_delete_the_file(tmp_path):
    from fmeval.features.backbones import fetch_model

    cache = tmp_path / "resources"
    cached = cache / "huggingface" / "timm--vit_small_patch14_dinov2.lvd142m" / "model.safetensors"
    _corrupt_safetensors(cached, "truncated")
    text = _one_line_error(
        tmp_path,
        fetch_model,
        spec=_spec("timm", "pretrained"),
        cache_dir=cache,
        manifest=cache / "models" / "m.json",
    )
    assert f"{cached} is corrupt or truncated" in text, text
    assert f"delete that file (rm {cached}) and rerun" in text
    assert not (cache / "models" / "m.json").exists()  # nothing a later run takes as done


def test_corrupt_ram_cache_says_to_delete_the_file(tmp_path):
    from fmeval.ct.ramweights import load_ram_file

    cached = tmp_path / "resources" / "torch" / "hub" / "checkpoints" / "ram.pth.tar"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ConfigError) as info:
        load_ram_file(cached, cached=True)
    assert f"delete that file (rm {cached})" in str(info.value)
