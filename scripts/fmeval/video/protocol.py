"""Named video label-propagation protocols: every value that defines one, as a preset.

``dino`` is DINO's ``eval_video_segmentation.py`` (Caron et al. 2021, github.com/
facebookresearch/dino): exp(cosine / 0.1) weights, zero outside a square neighbourhood of
12 patches, kept where they reach the 5th largest over the first frame and the last 7,
normalised to sum 1; bilinear upsampling by the patch size, per-channel min-max
(``norm_mask``), arg-max, nearest resize to the frame. ``dinov3`` is the DINOv3 (2025)
segmentation-tracking notebook (github.com/facebookresearch/dinov3,
``notebooks/segmentation_tracking.ipynb``): softmax(cosine / 0.2) over the top 5 of the
first frame and the last 7 inside a circular neighbourhood of radius 12 patches, the
probabilities renormalised, upsampled to the frame by nearest neighbours, min-max per
channel, arg-max. Both take the last block's patch tokens after the final norm
(``get_intermediate_layers(n=1)``), treat palette index 255 as void and average J and F
per object as davis2017-evaluation does.

Any propagation value may be overridden in the config (``video.propagate``); the
protocol's ``description`` then says so, e.g. "dinov3 protocol, temperature 0.5 instead
of 0.2", and that text travels with every output. No torch here (the plan imports it).
"""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from fmeval.errors import ConfigError

VOID = 255  # davis2017: palette index 255 is void (neither object nor scored as one)
OVERRIDABLE = ("temperature", "n_last_frames", "size_mask_neighborhood", "topk")


@dataclass(frozen=True)
class Protocol:
    """Every value of a propagation protocol (see the module docstring for their sources)."""

    name: str
    layer: int  # the block whose patch tokens are used (-1: the last)
    norm: bool  # whether the final norm is applied to them
    transform: str  # the frame transform (rules/features.smk)
    frame_size: int  # the transform's size: dino's height, dinov3's short side (the {res})
    weighting: str  # "exp": DINO's exp(sim / T) over the top k; "softmax": softmax(sim / T)
    temperature: float
    n_last_frames: int  # context: the first frame and this many last predicted frames
    size_mask_neighborhood: int  # source patches within this many patches; 0: no restriction
    neighborhood_shape: str  # "square" (Chebyshev distance) or "circle" (Euclidean)
    topk: int
    upsample: str  # "dino": by the patch size, then nearest to the frame; "dinov3": to the frame
    void_label: int
    averaging: str  # "object": davis2017's mean over objects of each object's frame mean
    source: str
    overrides: tuple[tuple[str, object, object], ...] = ()  # (key, value, protocol's value)

    @property
    def description(self) -> str:
        """E.g. "dino protocol", or "dinov3 protocol, temperature 0.5 instead of 0.2"."""
        return self.describe()

    def describe(self, res: int | None = None) -> str:
        """The description, with what the features at resolution ``res`` change."""
        changed = [f"{k} {v} instead of {was}" for k, v, was in self.overrides]
        return ", ".join([f"{self.name} protocol", *changed, *feature_departures(self, res)])

    def as_params(self) -> dict:
        """The values as plain data (a rule param, the masks' metadata); not the citation,
        which changes no number (so rewording it reruns nothing)."""
        out = asdict(self)
        del out["source"]
        out["overrides"] = [list(o) for o in self.overrides]
        out["description"] = self.description
        return out

    @classmethod
    def from_params(cls, params: Mapping) -> "Protocol":
        fields = {k: v for k, v in params.items() if k != "description"}
        fields["overrides"] = tuple(tuple(o) for o in fields.get("overrides", ()))
        return cls(source=PROTOCOLS[fields["name"]].source, **fields)


PROTOCOLS = {
    "dino": Protocol(
        name="dino",
        layer=-1,
        norm=True,
        transform="dino",
        frame_size=480,
        weighting="exp",
        temperature=0.1,
        n_last_frames=7,
        size_mask_neighborhood=12,
        neighborhood_shape="square",
        topk=5,
        upsample="dino",
        void_label=VOID,
        averaging="object",
        source="DINO (Caron et al., ICCV 2021), eval_video_segmentation.py",
    ),
    "dinov3": Protocol(
        name="dinov3",
        layer=-1,
        norm=True,
        transform="dinov3",
        frame_size=960,
        weighting="softmax",
        temperature=0.2,
        n_last_frames=7,
        size_mask_neighborhood=12,
        neighborhood_shape="circle",
        topk=5,
        upsample="dinov3",
        void_label=VOID,
        averaging="object",
        source="DINOv3 (Siméoni et al., 2025), notebooks/segmentation_tracking.ipynb",
    ),
}
DEFAULT = "dino"  # the one whose official code (../shared/reference/dino) tests fmeval


def neighbourhood_candidates(size: int, shape: str) -> int | None:
    """Source patches of one frame around a corner patch (the fewest); None: unrestricted."""
    if size <= 0:
        return None
    if shape == "square":
        return (size + 1) ** 2
    return sum(1 for i in range(size + 1) for j in range(size + 1) if math.hypot(i, j) <= size)


def resolve(name: str, overrides: Mapping | None = None) -> Protocol:
    """The protocol ``name`` with the config's non-null ``video.propagate`` values over it.

    A value that makes no sense is a :class:`ConfigError` (one line: key, problem, fix).
    """
    if name not in PROTOCOLS:
        raise ConfigError(f"video.protocol is {name!r}; use one of {sorted(PROTOCOLS)}")
    base = PROTOCOLS[name]
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(given) - set(OVERRIDABLE))
    if unknown:
        raise ConfigError(
            f"video.propagate has {unknown}; the {name} protocol's values that may be "
            f"overridden are {list(OVERRIDABLE)}"
        )
    proto = replace(base, **given)
    _check(proto, base)
    changed = tuple(
        (k, given[k], getattr(base, k))
        for k in OVERRIDABLE
        if k in given and given[k] != getattr(base, k)
    )
    return replace(proto, overrides=changed)


def _check(p: Protocol, base: Protocol) -> None:
    def bad(key: str, problem: str) -> ConfigError:
        return ConfigError(
            f"video.propagate.{key} is {getattr(p, key):g} ({p.name} protocol): {problem}; "
            f"use the protocol's {getattr(base, key):g} (remove the key) or a valid value"
        )

    if not p.temperature > 0:
        raise bad("temperature", "the temperature must be > 0")
    if p.n_last_frames < 0:
        raise bad("n_last_frames", "the number of last frames in the context must be >= 0")
    if p.size_mask_neighborhood < 0:
        raise bad("size_mask_neighborhood", "the neighbourhood must be >= 0 patches (0: all)")
    if p.topk < 1:
        raise bad("topk", "top-k must be >= 1")
    fewest = neighbourhood_candidates(p.size_mask_neighborhood, p.neighborhood_shape)
    if fewest is not None and p.topk > fewest:
        raise bad(
            "topk",
            f"larger than the {fewest} source patches a corner patch has in its "
            f"{p.neighborhood_shape} neighbourhood of {p.size_mask_neighborhood} on the first "
            "frame",
        )


# --- what the report says about a protocol ------------------------------------------------
# Set True once rules/video.smk feeds propagation the protocol's tokens (layer, final norm)
# and frame transform (the feature taps and transforms of issue 25's other half).
FEATURES_FOLLOW_PROTOCOL = True

CODE = {
    "dino": "github.com/facebookresearch/dino, eval_video_segmentation.py (run in fmeval's tests)",
    "dinov3": (
        "github.com/facebookresearch/dinov3, notebooks/segmentation_tracking.ipynb (no copy in "
        "../shared: fmeval's form is tested against an independent implementation of it)"
    ),
}
TRANSFORMS = {
    "dino": "frames 480 px high, width floored to a multiple of 64 (cv2 bilinear)",
    "dinov3": "short side 960 px, both sides rounded up to a multiple of the patch size (bicubic)",
}
# The image transform (fmeval.features.transforms) of each protocol's frames: the feature
# files propagation reads (rules/common.smk, VIDEO_FEATURES).
FEATURE_TRANSFORMS = {"dino": "dino-video", "dinov3": "dinov3-video"}
# Published DAVIS-2017 val J&F-Mean with pretrained weights: (model, J&F, source).
PUBLISHED = {
    "dino": [
        ("DINO ViT-S/16", 61.8, "DINO paper (Caron et al. 2021), DAVIS-2017 table"),
        ("DINO ViT-B/16", 62.3, "DINO paper (Caron et al. 2021), DAVIS-2017 table"),
        ("DINO ViT-S/8", 69.9, "DINO paper (Caron et al. 2021), DAVIS-2017 table"),
        ("DINO ViT-B/8", 71.4, "DINO paper (Caron et al. 2021), DAVIS-2017 table"),
    ],
    "dinov3": [],
}


def feature_departures(p: Protocol, res: int | None = None) -> list[str]:
    """What the features fed to propagation change from ``p`` (short, for descriptions)."""
    if not FEATURES_FOLLOW_PROTOCOL:
        return ["tokens without the final norm", f"frames resized by fmeval, not {p.transform}'s"]
    if res is not None and int(res) != p.frame_size:
        return [f"frames {res} px instead of {p.frame_size}"]
    return []


def departures(p: Protocol, resolutions=()) -> list[str]:
    """Where fmeval's numbers under ``p`` do not follow its source, one sentence each."""
    out = [f"{k} {v} instead of {was}" for k, v, was in p.overrides]
    if not FEATURES_FOLLOW_PROTOCOL:
        out.append(
            "tokens: the last block's patch tokens without the final norm (the protocol applies it)"
        )
        out.append(
            "frames: resized by fmeval to the {res} height (PIL bilinear), not the "
            f"protocol's transform ({TRANSFORMS[p.transform]})"
        )
    else:
        other = sorted({int(r) for r in resolutions or ()} - {p.frame_size})
        if other:
            out.append(
                f"frames at {other} px instead of the protocol's {p.frame_size} "
                f"({TRANSFORMS[p.transform]})"
            )
    out.append(
        "void (palette index 255) in the first mask is background, as davis2017 scores it "
        "(the reference loop would propagate it as a label)"
    )
    out.append(
        "the classifier method is fmeval's own (no published protocol); its annotated frame "
        "is not scored, also when it is the middle one (davis2017 would score it)"
    )
    return out
