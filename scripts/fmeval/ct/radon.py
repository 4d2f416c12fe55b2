"""deepinv's parallel-beam Radon transform written down as a sparse matrix, and its file.

deepinv 0.5's ``Tomography(img_width, angles=views)`` (``circle=False``) zero-pads the
image to the diagonal (``ceil(sqrt(2) * w)`` pixels), samples it bilinearly with
``grid_sample(align_corners=True)`` on one rotated grid per view, and sums each grid
column: detector ``d`` of view ``v`` is ``sum_h bilinear(x_pad, grid[v, h, d])``. That is
a fixed linear map, so :func:`radon_matrix` writes it down once: it takes deepinv's own
grids (``Radon._create_grids``), computes grid_sample's four bilinear weights per sample
(its formulas, in float32), drops the corners that fall on the zero padding and sums the
duplicates. The rows are view-major (``v * detectors + d``), the columns the image's
pixels, row-major. :mod:`fmeval.ct.operator` builds the deepinv physics on it.
"""

import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from deepinv.physics.functional.radon import SQRT2, Radon

from fmeval.errors import DataError
from fmeval.io.atomic import atomic_path
from fmeval.io.reading import READ_ERRORS, reading

INDEX = torch.int32  # CSR indices: nnz < 2**31 up to ~3000 views at 128 px


def view_angles(views: int, *, device: str | torch.device = "cpu") -> torch.Tensor:
    """deepinv's angles for ``angles=views``: ``views`` uniform angles in [0, 180) degrees."""
    return torch.linspace(0, 180, steps=views + 1, device=device)[:-1]


def padding(img_width: int) -> tuple[int, int]:
    """(padded width, zeros before the image) of deepinv's ``Radon.forward`` (``circle=False``)."""
    pad = int((SQRT2 * img_width - img_width).ceil())
    before = (img_width + pad) // 2 - img_width // 2
    return img_width + pad, before


@dataclass(frozen=True)
class RadonMatrix:
    """The un-normalised Radon transform of ``views`` views as CSR arrays (view-major rows)."""

    views: int
    img_width: int
    detectors: int
    crow: torch.Tensor  # (views * detectors + 1,) int32
    col: torch.Tensor  # (nnz,) int32
    values: torch.Tensor  # (nnz,) float32
    # A^T's CSR arrays (crow, col, values) when known (a cached file stores them): transposing
    # 36 M nonzeros at 1000 views costs 0.2-1.1 s per job, reading them ~0.1 s
    stored_transpose: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.views * self.detectors, self.img_width**2

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.crow, self.col, self.values))

    def csr(self, device: str | torch.device = "cpu") -> torch.Tensor:
        return csr_tensor(self.crow, self.col, self.values, self.shape).to(device)

    def arrays(self) -> dict[str, np.ndarray]:
        """The matrix and its transpose as named arrays (for ``np.savez``); :meth:`from_arrays`
        reads them back."""
        meta = np.array([self.views, self.img_width, self.detectors], dtype=np.int64)
        crow_t, col_t, values_t = self.transposed()
        return {
            "meta": meta,
            "crow": self.crow.numpy(),
            "col": self.col.numpy(),
            "values": self.values.numpy(),
            "crow_t": crow_t.numpy(),
            "col_t": col_t.numpy(),
            "values_t": values_t.numpy(),
        }

    @classmethod
    def from_arrays(cls, arrays) -> "RadonMatrix":
        """The matrix of :meth:`arrays`; a file from before the transpose was stored (no
        ``crow_t``) gets it computed. Inconsistent arrays are a ValueError."""
        views, img_width, detectors = (int(v) for v in arrays["meta"])
        rows, pixels = views * detectors, img_width**2
        where = f"{views} views of {img_width} px"
        direct = _checked_csr(arrays, "", rows=rows, cols=pixels, where=where)
        transpose = None
        if "crow_t" in arrays:
            transpose = _checked_csr(arrays, "_t", rows=pixels, cols=rows, where=where)
            if transpose[1].numel() != direct[1].numel():
                raise ValueError(f"inconsistent CSR arrays of A^T for {where}")
        return cls(views, img_width, detectors, *direct, stored_transpose=transpose)

    def transposed(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """CSR arrays (crow, col, values) of A^T (A's CSC arrays): A^T y row-parallel."""
        if self.stored_transpose is not None:
            return self.stored_transpose
        import scipy.sparse

        a = scipy.sparse.csr_array(
            (self.values.numpy(), self.col.numpy(), self.crow.numpy()), shape=self.shape
        )
        t = a.T.tocsr()
        return (
            torch.from_numpy(t.indptr.astype(np.int32)),
            torch.from_numpy(t.indices.astype(np.int32)),
            torch.from_numpy(t.data),
        )


def _checked_csr(arrays, suffix: str, *, rows: int, cols: int, where: str):
    """(crow, col, values) tensors of ``arrays[crow{suffix}]`` etc., checked to be a
    ``rows`` x ``cols`` float32 CSR matrix whose indices stay inside it."""
    crow, col, values = (np.asarray(arrays[k + suffix]) for k in ("crow", "col", "values"))
    if (
        crow.shape != (rows + 1,)
        or col.shape != values.shape
        or values.dtype != np.float32
        or int(crow[-1]) != col.size
        or (np.diff(crow) < 0).any()
        or (col.size and (col.min() < 0 or col.max() >= cols))
    ):
        name = "A^T" if suffix else "A"
        raise ValueError(f"inconsistent CSR arrays of {name} for {where}")
    return torch.from_numpy(crow), torch.from_numpy(col), torch.from_numpy(values)


def csr_tensor(crow, col, values, shape) -> torch.Tensor:
    """A torch CSR tensor (its arrays are checked by :meth:`RadonMatrix.from_arrays`)."""
    with warnings.catch_warnings():  # "CSR support is in beta", "invariant checks disabled"
        warnings.filterwarnings("ignore", category=UserWarning, message=".*[Ss]parse")
        return torch.sparse_csr_tensor(crow, col, values, shape)


def _view_block(grids: torch.Tensor, *, img_width: int, before: int):
    """scipy CSR (len(grids) * detectors, img_width**2) of grid_sample + column sums.

    ``grids``: (views, 1, H, D, 2) deepinv grids in [-1, 1] over the zero-padded image
    (H = D = its width); ``grid_sample(align_corners=True)`` reads the point
    ``(coord + 1) / 2 * (size - 1)`` and weights its four neighbours by the fractional
    parts, in float32 as here; corners on the padding (zeros) are dropped.
    """
    import scipy.sparse

    views, _, height, detectors, _ = grids.shape
    g = grids[:, 0].numpy()
    ix = (g[..., 0] + np.float32(1)) / np.float32(2) * np.float32(height - 1)
    iy = (g[..., 1] + np.float32(1)) / np.float32(2) * np.float32(height - 1)
    x0, y0 = np.floor(ix), np.floor(iy)
    wx, wy = ix - x0, iy - y0
    x0 = x0.astype(np.int32) - before  # in the unpadded image
    y0 = y0.astype(np.int32) - before
    row = np.broadcast_to(
        (
            np.arange(views, dtype=np.int32)[:, None, None] * detectors
            + np.arange(detectors, dtype=np.int32)
        ),
        (views, height, detectors),
    )
    one = np.float32(1)
    rows, cols, vals = [], [], []
    for dy, dx, w in (
        (0, 0, (one - wx) * (one - wy)),
        (0, 1, wx * (one - wy)),
        (1, 0, (one - wx) * wy),
        (1, 1, wx * wy),
    ):
        r, c = y0 + dy, x0 + dx
        keep = (r >= 0) & (r < img_width) & (c >= 0) & (c < img_width) & (w != 0)
        rows.append(row[keep])
        cols.append((r * img_width + c)[keep])
        vals.append(w[keep].astype(np.float64))
    shape = (views * detectors, img_width**2)
    coo = scipy.sparse.coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape
    )
    return coo.tocsr()  # sums the duplicates (overlapping footprints of neighbouring samples)


def radon_matrix(views: int, *, img_width: int = 128, chunk: int = 50) -> RadonMatrix:
    """deepinv's ``Tomography(img_width, angles=views)`` Radon transform (un-normalised) as CSR.

    Built ``chunk`` views at a time from deepinv's own per-view grids; duplicates (the
    bilinear footprints of neighbouring samples overlap) are summed in float64, then
    stored as float32.
    """
    width, before = padding(img_width)
    angles = view_angles(views)
    crows, cols, values = [np.zeros(1, dtype=np.int64)], [], []
    offset = 0
    for start in range(0, views, chunk):
        part = angles[start : start + chunk]
        grids = Radon(img_width, part, circle=False, parallel_computation=False).all_grids
        if grids.shape[2:4] != (width, width):
            raise AssertionError(
                f"deepinv's grid is {tuple(grids.shape)}, expected {width}x{width} per view"
            )
        block = _view_block(grids, img_width=img_width, before=before)
        crows.append(block.indptr[1:] + offset)
        cols.append(block.indices)
        values.append(block.data.astype(np.float32))
        offset += block.nnz
    return RadonMatrix(
        views=views,
        img_width=img_width,
        detectors=width,
        crow=torch.from_numpy(np.concatenate(crows).astype(np.int32)),
        col=torch.from_numpy(np.concatenate(cols).astype(np.int32)),
        values=torch.from_numpy(np.concatenate(values)),
    )


def write_matrix(matrix: RadonMatrix, path: str | os.PathLike) -> None:
    """``matrix`` as an uncompressed .npz (the CSR arrays of A and of A^T), written atomically.

    Twice the bytes of A alone (585 MB at 1000 views), so that each job reads A^T instead of
    transposing A: FBP at 1000 views is one A^T product, and the transpose cost ten times it.
    """
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **matrix.arrays())


def read_matrix(path: str | os.PathLike, *, views: int | None = None) -> RadonMatrix:
    """The matrix of :func:`write_matrix`; a DataError names the file and the fix."""
    fix = "delete it and rerun measure_operator"
    with reading(path, what="the operator matrix", fix=fix, errors=(*READ_ERRORS, KeyError)):
        with np.load(path) as arrays:
            matrix = RadonMatrix.from_arrays({k: arrays[k] for k in arrays.files})
    if views is not None and matrix.views != views:
        raise DataError(
            f"operator matrix {path} is for {matrix.views} views, not {views}; "
            "rerun measure_operator"
        )
    return matrix
