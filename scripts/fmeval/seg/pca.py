"""PCA renders of a test image's patch features, and the patches' similarity to the CLS token.

As Tutorial 5: ``PCA(n_components=3, whiten=True)`` fitted on the foreground patches
(probe score above the threshold; the raw score, without the segmentation's median
filter), every patch projected, mapped to colours by ``sigmoid(2 x)``, background black.
Beside it, the PCA fitted on all patches and the cosine similarity of each patch to CLS.
"""

import logging
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.special import expit
from sklearn.decomposition import PCA

from fmeval.features.store import ClsTokens, read_cls
from fmeval.plots import save_png, title_lines
from fmeval.seg.fit import Probe, load_probe
from fmeval.seg.segment import PatchImage, each_test_image, foreground_mask

log = logging.getLogger(__name__)

MIN_FG_PATCHES = 3  # PCA(3) needs at least three samples


@dataclass
class Render:
    """An (rows, cols, 3) RGB render in [0, 1] and the PCA's explained-variance ratios."""

    rgb: np.ndarray
    explained: np.ndarray  # (3,)
    fitted_on: str  # "foreground" or "all patches"


def pca_render(
    x: np.ndarray, grid: tuple[int, int], *, foreground: np.ndarray | None = None
) -> Render:
    """PCA(3, whiten) fitted on ``x[foreground]`` (all rows when None), sigmoid(2x) colours.

    With a foreground, the background patches are set to black. Raises ValueError with
    fewer than 3 foreground patches: callers fall back to the whole image.
    """
    x = np.asarray(x, dtype=np.float64)
    fit_rows = x if foreground is None else x[np.asarray(foreground).reshape(-1)]
    if len(fit_rows) < MIN_FG_PATCHES:
        raise ValueError(f"PCA(3) needs at least {MIN_FG_PATCHES} patches, got {len(fit_rows)}")
    pca = PCA(n_components=3, whiten=True, random_state=0).fit(fit_rows)
    rgb = expit(2.0 * pca.transform(x)).reshape(*grid, 3)
    if foreground is not None:
        rgb = rgb * np.asarray(foreground).reshape(*grid, 1)
    return Render(
        rgb, pca.explained_variance_ratio_, "all patches" if foreground is None else "foreground"
    )


def cls_similarity(x: np.ndarray, cls: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Cosine similarity of every patch to the CLS token, (rows, cols) in [-1, 1]."""
    x = np.asarray(x, dtype=np.float64)
    cls = np.asarray(cls, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(cls)
    sim = (x @ cls) / np.maximum(norms, np.finfo(np.float64).tiny)
    return np.clip(sim, -1.0, 1.0).reshape(grid)


def foreground_render(
    x: np.ndarray, grid: tuple[int, int], foreground: np.ndarray
) -> tuple[Render, str | None]:
    """The foreground PCA, or the whole-image PCA with a note when too few patches are
    foreground.
    """
    n_fg = int(np.asarray(foreground).sum())
    if n_fg >= MIN_FG_PATCHES:
        return pca_render(x, grid, foreground=foreground), None
    note = (
        f"only {n_fg} patch(es) above the threshold: "
        "whole-image PCA shown instead of the foreground PCA"
    )
    return pca_render(x, grid), note


def _evr(render: Render) -> str:
    return "EVR " + ", ".join(f"{v:.3f}" for v in render.explained)


def embedding_label(meta: dict) -> str:
    """What the similarity panel compares with: the CLS token, or the model's own pooling
    (issue 28: a family without a CLS embedding; fmeval.features.families)."""
    kind = meta.get("embedding", "cls")
    return "CLS" if kind == "cls" else {"map": "attention pool", "avg": "mean pool"}[kind]


def draw_renders(
    image,
    fg: Render,
    whole: Render,
    sim: np.ndarray,
    *,
    note: str | None,
    title: str,
    out,
    embedding: str = "CLS",
) -> None:
    import matplotlib.pyplot as plt  # fmeval.segment has selected the Agg backend

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    axes[0].imshow(image)
    axes[0].set_title("image")
    axes[1].imshow(fg.rgb)
    first = "PCA (no foreground: all patches)" if note else "PCA on foreground patches"
    axes[1].set_title(f"{first}\n{_evr(fg)}", fontsize="small")
    axes[2].imshow(whole.rgb)
    axes[2].set_title(f"PCA on all patches\n{_evr(whole)}", fontsize="small")
    shown = axes[3].imshow(sim, cmap="RdBu_r", vmin=-1, vmax=1)
    axes[3].set_title(f"cosine similarity to {embedding}", fontsize="small")
    fig.colorbar(shown, ax=axes[3], fraction=0.046)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title + (f"\nNOTE: {note}" if note else ""), fontsize="medium")
    save_png(fig, out)


def render_image(
    image: PatchImage, png: str, *, clf: Probe, tokens: ClsTokens, threshold: float
) -> dict:
    """Everything ``render_pca`` does for one test image but write its record."""
    foreground = foreground_mask(
        clf.predict_proba(image.x).reshape(image.grid), threshold=threshold
    )
    fg, note = foreground_render(image.x, image.grid, foreground)
    if note:
        log.warning("%s: %s", image.name, note)
    whole = pca_render(image.x, image.grid)
    sim = cls_similarity(image.x, tokens.cls[tokens.images.index(image.name)], image.grid)
    title = title_lines(image.meta, image.name)
    label = embedding_label(tokens.meta)
    draw_renders(image.shown, fg, whole, sim, note=note, title=title, out=png, embedding=label)
    return {
        **image.meta,
        "image": image.name,
        "threshold": threshold,
        "n_foreground": int(foreground.sum()),
        "foreground_pca": note is None,
        "note": note or "",
        "explained_variance_foreground": fg.explained.tolist(),
        "explained_variance_all": whole.explained.tolist(),
    }


def render_pca(
    *,
    features: str,
    cls: str,
    probe: str,
    dataset_manifest: str,
    threshold: float,
    folder: str,
) -> list[dict]:
    """``render_pca`` for one (dataset, model, res): every test image of the dataset into
    ``folder`` (``<image>.png`` and ``<image>.json``), in one job."""
    render = partial(render_image, clf=load_probe(probe), tokens=read_cls(cls), threshold=threshold)
    return each_test_image(
        render, features=features, dataset_manifest=dataset_manifest, folder=folder
    )
