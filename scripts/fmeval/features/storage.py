"""The storage precision of the token columns (``feature_storage``): fp32, fp16 or bf16.

- ``fp32``: Arrow/Parquet float32, read without a copy.
- ``fp16``: Arrow/Parquet float16 (halffloat; Parquet's FLOAT16 logical type, pyarrow >= 15):
  half the bytes, an 11-bit significand; values beyond 65,504 become infinite (an error here).
- ``bf16``: bfloat16 has no Parquet type, so its bits are stored as uint16 (the column's
  values type says so, and the file's metadata records ``storage: bf16``): half the bytes,
  float32's range with an 8-bit significand. pandas and duckdb see the raw bits.

Rounding is to nearest, ties to even (torch's casts). Readers upcast any of them to float32
(:func:`to_float32`): fp32 columns stay zero-copy views, the others are one conversion.
"""

import numpy as np
import pyarrow as pa
import torch

from fmeval.errors import DataError

STORAGES = ("fp32", "fp16", "bf16")
DEFAULT_STORAGE = "fp32"
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
NUMPY_DTYPES = {"fp32": np.float32, "fp16": np.float16, "bf16": np.uint16}  # bf16: its bits
ARROW_TYPES = {"fp32": pa.float32(), "fp16": pa.float16(), "bf16": pa.uint16()}


def storage_of_dtype(dtype) -> str:
    """The storage name of a numpy array's dtype (uint16 holds bfloat16 bits)."""
    for name, np_dtype in NUMPY_DTYPES.items():
        if np.dtype(dtype) == np_dtype:
            return name
    raise ValueError(f"no token storage holds numpy {np.dtype(dtype)}")


def as_numpy(tokens: torch.Tensor) -> np.ndarray:
    """A CPU tensor of a storage dtype as numpy, without a copy (bfloat16 as its uint16 bits)."""
    if tokens.dtype == torch.bfloat16:
        return tokens.view(torch.int16).numpy().view(np.uint16)
    return tokens.numpy()


def encode(matrix: np.ndarray, storage: str) -> np.ndarray:
    """float32 ``matrix`` in ``storage``'s numpy dtype (bf16 as uint16 bits)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if storage == "fp32":
        return matrix
    matrix = np.require(matrix, requirements=["C", "W"])  # torch wants a writable array
    return as_numpy(torch.from_numpy(matrix).to(TORCH_DTYPES[storage]))


def check_finite(matrix: np.ndarray, *, storage: str) -> None:
    """A token overflowed its storage (fp16 beyond 65,504): one line with the fix."""
    if storage == "fp16" and not np.isfinite(matrix).all():
        raise DataError(
            "feature_storage: fp16 cannot hold these tokens (a value beyond 65,504); "
            "use bf16 or fp32"
        )


def decode_values(values: pa.Array) -> np.ndarray:
    """The flat float32 values of a token column's values array (float32: no copy)."""
    if pa.types.is_float32(values.type):
        return values.to_numpy(zero_copy_only=True)
    if pa.types.is_float16(values.type):
        return values.to_numpy(zero_copy_only=False).astype(np.float32)
    if pa.types.is_uint16(values.type):  # bfloat16 bits: the upper half of a float32
        bits = values.to_numpy(zero_copy_only=False).astype(np.uint32)
        return np.left_shift(bits, 16).view(np.float32)
    raise DataError(f"a token column of type {values.type}; re-extract the features")


def to_float32(column: pa.FixedSizeListArray) -> np.ndarray:
    """An (N, D) token column of any storage as float32 (a view when stored as fp32)."""
    dim = column.type.list_size
    values = column.values
    if column.offset or len(values) != len(column) * dim:  # a slice of a longer column
        values = column.flatten()
    return decode_values(values).reshape(-1, dim)
