"""Backbone families as data: one record per family (like timm's ``default_cfgs``).

A :class:`Family` says, for every model whose name matches its ``pattern``, what fmeval
needs to know to use its tokens: the prefix tokens before the patch grid, how the
image-level embedding is made (the CLS token, or the model's own pooling head when it has
no CLS token), whether it uses rotary position embeddings (no CLS attention maps), and
where its input normalisation comes from (timm's ``pretrained_cfg`` of the named model).
The first record that matches a name wins; adding a family is one record plus a test
(tests/unit/features/test_families.py).

This module imports neither torch nor timm at import time (the DAG reads it); only
:func:`input_norm` and :func:`native_resolution` ask timm for a ``pretrained_cfg``, which
builds nothing.
"""

import re
from dataclasses import dataclass
from functools import cache

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# How an image-level embedding is made (the ``cls`` Parquet file holds it).
EMBEDDINGS = {
    "cls": "CLS token (last block, no final norm)",
    "map": "attention pool (the model's MAP head) of the final-normed tokens",
    "avg": "mean of the final-normed patch tokens (the model's pooling head)",
}


@dataclass(frozen=True)
class BackendRecord:
    """One backend (the config's ``models.<key>.backend``): how fmeval loads its models. The
    implementation (fetch, build, forward) is :data:`fmeval.features.backbones.BACKENDS`,
    under the same name (a test checks the keys are equal)."""

    name: str
    description: str


BACKEND_RECORDS: dict[str, BackendRecord] = {
    b.name: b
    for b in (
        BackendRecord(
            "torchhub",
            "the official DINOv2/DINOv3 hub code (a GitHub repo pinned to a commit, "
            "or a local clone), torch.hub.load",
        ),
        BackendRecord("timm", "timm's models (timm.create_model), its weights from the Hub"),
    )
}
DEFAULT_BACKEND = "torchhub"


@dataclass(frozen=True)
class Family:
    """One backbone family: which names it covers and how fmeval reads their tokens."""

    name: str  # shown in the catalog and the report
    backend: str  # a key of BACKEND_RECORDS
    pattern: str  # a regex matched in full against the configured name (``arch[.tag]``)
    examples: tuple[str, ...]  # catalog names; the first is the smallest (tests build it)
    prefix: tuple[str, ...]  # tokens before the patch grid: "cls", "registers" (may be empty)
    embedding: str  # a key of EMBEDDINGS
    final_norm: bool  # the model has a final norm (features are taken before it)
    rope: bool = False  # rotary position embeddings (CLS attention maps cannot be recomputed)
    normalisation: str = "pretrained_cfg"  # or "imagenet" (the official DINO hub code)
    native_res: int | None = None  # None: timm's pretrained_cfg input size
    unsupported: str | None = None  # why fmeval refuses the family (then ``fix`` says what to do)
    fix: str = ""

    def matches(self, backend: str, name: str) -> bool:
        return backend == self.backend and re.fullmatch(self.pattern, name) is not None

    @property
    def has_cls(self) -> bool:
        return "cls" in self.prefix

    @property
    def embedding_text(self) -> str:
        return EMBEDDINGS[self.embedding]

    @property
    def attention_maps(self) -> str | None:
        """Why CLS attention maps cannot be drawn for this family (None: they can)."""
        if not self.has_cls:
            return "not available: the model has no CLS token"
        if self.rope:
            return "not available: rotary position embeddings (q and k are rotated in the block)"
        return None


def _timm(name, pattern, examples, prefix, embedding, final_norm=True, **kw) -> Family:
    return Family(name, "timm", pattern, examples, prefix, embedding, final_norm, **kw)


_NAFLEX_FIX = (
    "use the family's fixed-grid ViT, e.g. vit_base_patch16_radio_v3.c_radio (C-RADIO) or "
    "vit_base_patch16_siglip_224.v2_webli (SigLIP 2), which take any resolution"
)

FAMILIES: tuple[Family, ...] = (
    Family(
        "DINOv2",
        "torchhub",
        r"dinov2_vit[sblg]14(_reg)?",
        ("dinov2_vits14",),
        ("cls",),
        "cls",
        True,
        normalisation="imagenet",
        native_res=518,
    ),
    Family(
        "DINOv3",
        "torchhub",
        r"dinov3_vit\w+",
        ("dinov3_vits16",),
        ("cls", "registers"),
        "cls",
        True,
        rope=True,
        normalisation="imagenet",
        native_res=224,
    ),
    _timm(
        "DINOv2",
        r"vit_\w+_patch14(_reg4)?_dinov2(\.\w+)?",
        ("vit_small_patch14_dinov2",),
        ("cls",),
        "cls",
    ),
    _timm(
        "DINOv3",
        r"vit_\w+_patch16_dinov3(_qkvb)?(\.\w+)?",
        ("vit_small_patch16_dinov3",),
        ("cls", "registers"),
        "cls",
        rope=True,
    ),
    _timm(
        "SigLIP 2 / SigLIP",
        r"vit_\w+_siglip_\d+(\.\w+)?",
        ("vit_base_patch16_siglip_224.v2_webli", "vit_so400m_patch14_siglip_224.v2_webli"),
        (),
        "map",
    ),
    _timm(
        "SigLIP 2 / SigLIP (GAP)",
        r"vit_\w+_siglip_gap_\d+(\.\w+)?",
        ("vit_base_patch16_siglip_gap_224.v2_webli",),
        (),
        "avg",
    ),
    _timm(
        "Perception Encoder (core)",
        r"vit_pe_core_\w+(\.\w+)?",
        ("vit_pe_core_tiny_patch16_384.fb", "vit_pe_core_base_patch16_224.fb"),
        ("cls",),
        "map",
        rope=True,
    ),
    _timm(
        "C-RADIO",
        r"vit_\w+_patch16_radio_v\d(\.\w+)?",
        ("vit_base_patch16_radio_v3.c_radio",),
        ("cls", "registers"),
        "cls",
        final_norm=False,
    ),
    _timm("AIMv2", r"aimv2_\w+(\.\w+)?", ("aimv2_large_patch14_224.apple_pt",), (), "avg"),
    _timm(
        "EVA-02",
        r"eva02_\w+(\.\w+)?",
        ("eva02_tiny_patch14_224.mim_in22k", "eva02_base_patch14_224.mim_in22k"),
        ("cls",),
        "cls",
        final_norm=False,  # the MIM models norm in the head (fc_norm), not after the blocks
        rope=True,
    ),
    _timm("MAE", r"vit_\w+_patch\d+_224\.mae", ("vit_base_patch16_224.mae",), ("cls",), "cls"),
    _timm(
        "CLIP",
        r"vit_\w+_patch\d+_clip(_quickgelu)?_\d+(\.\w+)?",
        ("vit_xsmall_patch16_clip_224", "vit_base_patch16_clip_224.openai"),
        ("cls",),
        "cls",
    ),
    _timm(
        "NaFlexViT",
        r"naflexvit_\w+(\.\w+)?",
        ("naflexvit_base_patch16_radio_v3.c_radio",),
        (),
        "avg",
        unsupported="a NaFlexViT (variable-length patch sequences), whose "
        "forward fmeval does not run",
        fix=_NAFLEX_FIX,
    ),
    _timm(
        "SAM",
        r"samvit_\w+(\.\w+)?",
        ("samvit_base_patch16.sa1b",),
        (),
        "avg",
        unsupported="SAM's image encoder: windowed attention on a fixed 1024 px grid, no "
        "position-embedding interpolation and no image embedding",
        fix="use a ViT that takes any resolution, e.g. vit_base_patch16_siglip_224.v2_webli",
    ),
    # any other ViT of timm's VisionTransformer: a CLS token is checked when it is built
    _timm("ViT (timm, generic)", r"vit_\w+(\.\w+)?", ("vit_small_patch16_224",), ("cls",), "cls"),
)


def family_of(backend: str, name: str) -> Family | None:
    """The first family whose pattern matches ``name`` (None: no record covers it)."""
    return next((f for f in FAMILIES if f.matches(backend, name)), None)


def attention_maps_of(spec) -> str | None:
    """Why a model spec cannot show CLS attention maps (None: it can, or no record says)."""
    family = family_of(spec.backend, spec.name)
    return family.attention_maps if family is not None else None


@cache
def _pretrained_cfg(name: str):
    from timm.models import get_pretrained_cfg

    return get_pretrained_cfg(name)


def input_norm(backend: str, name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of the model's input: its timm ``pretrained_cfg`` (ImageNet's for the
    official DINO hub code, and for a timm name with no pretrained config)."""
    family = family_of(backend, name)
    if backend != "timm" or (family is not None and family.normalisation == "imagenet"):
        return IMAGENET_MEAN, IMAGENET_STD
    cfg = _pretrained_cfg(name)
    if cfg is None:
        return IMAGENET_MEAN, IMAGENET_STD
    return tuple(map(float, cfg.mean)), tuple(map(float, cfg.std))


def native_resolution(backend: str, name: str) -> int | None:
    """The side (px) the model was trained at: the record's, else timm's ``pretrained_cfg``."""
    family = family_of(backend, name)
    if family is not None and family.native_res:
        return family.native_res
    cfg = _pretrained_cfg(name) if backend == "timm" else None
    return int(cfg.input_size[-1]) if cfg is not None else None


def model_facts(backend: str, name: str) -> dict:
    """What the fetch record, the feature metadata and the report say about a model."""
    family = family_of(backend, name)
    mean, std = input_norm(backend, name)
    return {
        "family": family.name if family else "unknown",
        "embedding": family.embedding if family else "cls",
        "embedding_text": EMBEDDINGS[family.embedding if family else "cls"],
        "input_mean": list(mean),
        "input_std": list(std),
        "native_res": native_resolution(backend, name),
        "attention_maps": family.attention_maps if family else None,
    }


def markdown_table() -> str:
    """The README's table of families (generated: ``python -m fmeval.features.catalog``)."""
    rows = [
        "| family | backend | prefix tokens | image embedding | input mean / std | CLS attention "
        "maps | e.g. |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in FAMILIES:
        if f.unsupported:
            continue
        prefix = " + ".join(f.prefix) or "none"
        norm = "ImageNet" if f.normalisation == "imagenet" else "timm `pretrained_cfg`"
        names = ", ".join(f"`{n}`" for n in f.examples)
        maps = (
            "yes"
            if f.attention_maps is None
            else "no (no CLS token)"
            if not f.has_cls
            else "no (RoPE)"
        )
        rows.append(
            f"| {f.name} | `{f.backend}` | {prefix} | {f.embedding_text} | {norm} | {maps} | "
            f"{names} |"
        )
    return "\n".join(rows)
