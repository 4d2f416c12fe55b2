"""A synthetic video: a textured disc moving over a textured background, with its masks."""

import numpy as np

PATCH = 4  # the stand-in backbone's patch size


def moving_disc(
    n_frames: int = 12,
    *,
    height: int = 96,
    width: int = 144,
    radius: int = 24,
    step: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W, 3) float frames in [0, 1] and (T, H, W) uint8 masks (1 = disc).

    The background is a static bluish noise texture; the disc carries its own reddish
    noise texture and moves ``step`` px right per frame.
    """
    rng = np.random.default_rng(seed)
    background = np.clip(rng.normal([0.2, 0.3, 0.7], 0.12, size=(height, width, 3)), 0, 1)
    texture = np.clip(
        rng.normal([0.8, 0.3, 0.2], 0.12, size=(2 * radius + 1, 2 * radius + 1, 3)), 0, 1
    )
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    inside = yy**2 + xx**2 <= radius**2
    frames, masks = [], []
    cy, cx0 = height // 2, radius + 4
    for t in range(n_frames):
        img, mask = background.copy(), np.zeros((height, width), dtype=np.uint8)
        cx = cx0 + step * t
        win = (slice(cy - radius, cy + radius + 1), slice(cx - radius, cx + radius + 1))
        img[win][inside] = texture[inside]
        mask[win][inside] = 1
        frames.append(img)
        masks.append(mask)
    return np.stack(frames), np.stack(masks)


def pixel_patches(frame: np.ndarray, patch: int = PATCH) -> np.ndarray:
    """Raw pixel patches as features: (rows * cols, patch * patch * 3), row-major."""
    h, w, _ = frame.shape
    rows, cols = h // patch, w // patch
    x = frame[: rows * patch, : cols * patch].reshape(rows, patch, cols, patch, 3)
    return x.transpose(0, 2, 1, 3, 4).reshape(rows * cols, -1).astype(np.float32)


def two_discs(n_frames: int = 8, *, height: int = 96, width: int = 144, seed: int = 1):
    """(T, H, W, 3) frames and (T, H, W) label maps with two objects: 1 moves right, 2 left."""
    rng = np.random.default_rng(seed)
    background = np.clip(rng.normal([0.2, 0.3, 0.7], 0.1, size=(height, width, 3)), 0, 1)
    colours = {1: [0.85, 0.25, 0.2], 2: [0.3, 0.85, 0.25]}
    radius = 14
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    inside = yy**2 + xx**2 <= radius**2
    textures = {
        k: np.clip(rng.normal(c, 0.1, size=(*inside.shape, 3)), 0, 1) for k, c in colours.items()
    }
    frames, labels = [], []
    for t in range(n_frames):
        img, lab = background.copy(), np.zeros((height, width), dtype=np.uint8)
        for obj, (cy, cx) in ((1, (30, 24 + 3 * t)), (2, (66, width - 24 - 3 * t))):
            win = (slice(cy - radius, cy + radius + 1), slice(cx - radius, cx + radius + 1))
            img[win][inside] = textures[obj][inside]
            lab[win][inside] = obj
        frames.append(img)
        labels.append(lab)
    return np.stack(frames), np.stack(labels)


PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9)  # DAVIS: index 1 red, 2 green


def write_davis(root, *, resolution: str = "480p") -> dict:
    """A DAVIS-layout folder: ``disc`` (greyscale 0/255 masks) and ``pair`` (palette, 2 objects).

    Returns {sequence: (frames, label maps)} as written (frames as uint8 RGB).
    """
    from pathlib import Path

    from PIL import Image

    root = Path(root)
    written = {}
    for seq, (frames, labels) in {"disc": moving_disc(8), "pair": two_discs(8)}.items():
        rgb = np.round(frames * 255).astype(np.uint8)
        (root / "JPEGImages" / resolution / seq).mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / resolution / seq).mkdir(parents=True, exist_ok=True)
        for t, (img, lab) in enumerate(zip(rgb, labels)):
            Image.fromarray(img).save(root / "JPEGImages" / resolution / seq / f"{t:05d}.png")
            if seq == "pair":
                mask = Image.fromarray(lab, mode="P")
                mask.putpalette(PALETTE)
            else:
                mask = Image.fromarray(lab * 255, mode="L")
            mask.save(root / "Annotations" / resolution / seq / f"{t:05d}.png")
        written[seq] = (rgb, labels)
    return written
