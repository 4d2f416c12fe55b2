"""The backbones fmeval supports, and the plan-time checks of a model's name.

``BACKBONES`` lists every DINOv2 and DINOv3 ViT by backend: the official torch.hub
entry points and timm's ports. The README's list is generated from it
(:func:`markdown_table`). The checks only read names (timm's registry, a local hub's
``hubconf.py``): nothing is built or downloaded, so a dry run catches a typo.
"""

import ast
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from fmeval.errors import ConfigError
from fmeval.features.families import BACKEND_RECORDS, FAMILIES, family_of
from fmeval.features.families import markdown_table as families_table
from fmeval.io.sources import local_path

HUB_REPOS = {"DINOv2": "facebookresearch/dinov2", "DINOv3": "facebookresearch/dinov3"}
DINOV3_DOWNLOADS = "https://ai.meta.com/resources/models-and-libraries/dinov3-downloads/"
TIMM_VIT_MODULES = ("vision_transformer", "eva")  # their forward_intermediates give CLS + patches
SEE = "README, *Supported backbones*"


@dataclass(frozen=True)
class Backbone:
    """One supported model: ``registers`` extra prefix tokens are dropped from the patch grid."""

    backend: str
    family: str
    name: str
    patch_size: int
    embed_dim: int
    registers: int


_DIMS = {"tiny": 192, "small": 384, "small_plus": 384, "base": 768, "large": 1024}
_DIMS |= {"giant": 1536, "huge_plus": 1280, "7b": 4096}
_HUB_V2 = {"s": "small", "b": "base", "l": "large", "g": "giant"}
_HUB_V3 = {"s": "small", "splus": "small_plus", "b": "base", "l": "large", "lplus": "large"}
_HUB_V3 |= {"hplus": "huge_plus", "7b": "7b"}


def _backbones() -> tuple[Backbone, ...]:
    out = []
    for s, size in _HUB_V2.items():
        for reg in ("", "_reg"):
            name = f"dinov2_vit{s}14{reg}"
            out.append(Backbone("torchhub", "DINOv2", name, 14, _DIMS[size], 4 * bool(reg)))
    for s, size in _HUB_V3.items():
        name = f"dinov3_vit{s.removesuffix('plus')}16{'plus' if s.endswith('plus') else ''}"
        out.append(Backbone("torchhub", "DINOv3", name, 16, _DIMS[size], 4))
    for size in ("small", "base", "large", "giant"):
        for reg in ("", "_reg4"):
            name = f"vit_{size}_patch14{reg}_dinov2"
            out.append(Backbone("timm", "DINOv2", name, 14, _DIMS[size], 4 * bool(reg)))
    for size in ("small", "small_plus", "base", "large", "huge_plus", "7b", "tiny"):
        for qkvb in ("", "_qkvb"):
            if (size == "7b" and qkvb) or (size == "tiny" and not qkvb):
                continue  # timm 1.0.31 has no vit_7b_..._qkvb and no plain vit_tiny_..._dinov3
            name = f"vit_{size}_patch16_dinov3{qkvb}"
            out.append(Backbone("timm", "DINOv3", name, 16, _DIMS[size], 4))
    return tuple(out)


BACKBONES = _backbones()
BY_NAME = {(b.backend, b.name): b for b in BACKBONES}


# A torchhub `repo` runs that repo's hubconf.py, so the default DINOv2 code is pinned to one commit.
PINNED_REPOS = {"DINOv2": "facebookresearch/dinov2:12592a9bdfea0a6e4ee4767cd5a8d3195c0e3509"}


def default_repo(name: str) -> str:
    """The official hub repo of a torchhub entry point (DINOv3 for ``dinov3_*``)."""
    family = "DINOv3" if name.startswith("dinov3_") else "DINOv2"
    return PINNED_REPOS.get(family, HUB_REPOS[family])


def closest(name: str, known: list[str], n: int = 3) -> str:
    found = difflib.get_close_matches(name, known, n=n, cutoff=0.5)
    return ", ".join(found) if found else ", ".join(sorted(known)[:n]) + ", ..."


def hub_entry_points(repo_dir: str | Path) -> list[str]:
    """The public names ``hubconf.py`` defines or imports (read, not imported: no side effects)."""
    tree = ast.parse((Path(repo_dir) / "hubconf.py").read_text())
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.ImportFrom):
            names += [a.asname or a.name for a in node.names]
    return [n for n in names if not n.startswith("_")]


def _not_a_vit(name: str) -> str | None:
    """Why an official DINO hub entry point is not a backbone fmeval can run, or None."""
    if "convnext" in name:
        return "a ConvNeXt, not a ViT"
    if re.search(r"_(lc|ld|dd|de|ms)$|dinotxt", name):
        return (
            "a task head (classifier, depth, detection, segmentation or text), not a ViT backbone"
        )
    return None


def check_hub_name(key: str, name: str, repo: str | None, patch_size: int) -> None:
    """A torchhub ``name`` must be a ViT backbone entry point of ``repo``."""
    where = f"models.{key}.name"
    repo = repo or default_repo(name)
    if local_path(repo).is_dir():
        if not (local_path(repo) / "hubconf.py").is_file():
            raise ConfigError(
                f"models.{key}.repo: {repo} has no hubconf.py (a torch.hub repo has one)"
            )
        known = hub_entry_points(local_path(repo))
        origin = f"the hub in {repo}"
    elif repo.split(":")[0] in HUB_REPOS.values():
        family = next(f for f, r in HUB_REPOS.items() if r == repo.split(":")[0])
        known = [b.name for b in BACKBONES if b.backend == "torchhub" and b.family == family]
        origin = repo.split(":")[0]  # the official repo's entry points, at any ref
    elif re.fullmatch(r"[\w.-]+/[\w.-]+(:[\w./-]+)?", repo) and not repo.startswith("."):
        return  # another GitHub hub: only the fetch can tell
    else:
        raise ConfigError(
            f"models.{key}.repo: no folder {repo} (from {Path.cwd()}); a torchhub repo is a "
            "local folder with a hubconf.py or a GitHub `owner/name[:ref]`"
        )
    dino = name.startswith(("dinov2_", "dinov3_"))
    reason = _not_a_vit(name) if dino else None
    if reason is None and name not in known:
        raise ConfigError(
            f"{where}: {origin} has no entry point {name!r}; closest: {closest(name, known)} "
            f"({SEE})"
        )
    if reason or (dino and ("torchhub", name) not in BY_NAME):
        raise ConfigError(
            f"{where}: {name} is {reason or 'not a ViT backbone'}: fmeval needs a ViT's patch "
            f"tokens and CLS token; use e.g. {_example('torchhub', name)} ({SEE})"
        )
    _check_patch(key, name, BY_NAME.get(("torchhub", name)), patch_size)


def check_timm_name(key: str, name: str, patch_size: int) -> None:
    """A timm ``name`` (``arch`` or ``arch.tag``) must be a ViT that timm lists."""
    import timm
    from timm.models import model_entrypoint

    where = f"models.{key}.name"
    arch, _, tag = name.partition(".")
    if not timm.is_model(arch) or (tag and name not in timm.list_models(pretrained=True)):
        known = timm.list_models() + timm.list_models(pretrained=True)
        raise ConfigError(
            f"{where}: timm {timm.__version__} has no model {name!r}; closest: "
            f"{closest(name, known)} ({SEE})"
        )
    family = family_of("timm", name)
    if family is not None and family.unsupported:
        raise ConfigError(
            f"{where}: timm model {name!r} is {family.unsupported}; {family.fix} ({SEE})"
        )
    module = model_entrypoint(arch).__module__.rsplit(".", 1)[-1]
    if module not in TIMM_VIT_MODULES:
        raise ConfigError(
            f"{where}: timm model {name!r} is a {module} model, not a ViT: fmeval needs a ViT's "
            f"patch tokens and CLS token; use e.g. {_example('timm', name)} ({SEE})"
        )
    if family is None:
        _no_family(where, name)
    found = re.search(r"patch(\d+)", arch)
    spec = BY_NAME.get(("timm", arch))
    if spec is None and found:
        spec = Backbone("timm", "", arch, int(found.group(1)), 0, 0)
    _check_patch(key, name, spec, patch_size)


# --- issue 28: families beyond DINO (fmeval.features.families) ---------------------------


def _no_family(where: str, name: str) -> None:
    """A timm ViT no family record covers: fmeval does not know its tokens and embedding."""
    known = ", ".join(f.examples[0] for f in FAMILIES if f.backend == "timm" and not f.unsupported)
    raise ConfigError(
        f"{where}: no fmeval family covers timm model {name!r}, so its prefix tokens and image "
        f"embedding are unknown; use a supported family (e.g. {known}) or add a record to "
        f"fmeval.features.families ({SEE})"
    )


def _example(backend: str, name: str) -> str:
    """The smallest supported ViT of ``name``'s family (DINOv3 when the name says so)."""
    family = "DINOv3" if "dinov3" in name else "DINOv2"
    return next(b.name for b in BACKBONES if b.backend == backend and b.family == family)


def _check_patch(key: str, name: str, known: Backbone | None, patch_size: int) -> None:
    if known is not None and known.patch_size != patch_size:
        raise ConfigError(
            f"models.{key}.patch_size: is {patch_size}, but {name} has patch size "
            f"{known.patch_size}; set it to {known.patch_size}"
        )


def markdown_table() -> str:
    """The README's list of supported backbones (one row per backend and family)."""
    rows = ["| backend | family | patch | names |", "| --- | --- | --- | --- |"]
    for backend in BACKEND_RECORDS:
        for family in HUB_REPOS:
            group = [b for b in BACKBONES if b.backend == backend and b.family == family]
            names = ", ".join(f"`{b.name}`" for b in group)
            rows.append(f"| `{backend}` | {family} | {group[0].patch_size} | {names} |")
    return "\n".join(rows)


if __name__ == "__main__":  # python -m fmeval.features.catalog: the README's lists
    print(markdown_table())
    print()
    print(families_table())
