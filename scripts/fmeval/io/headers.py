"""Does a local weights file start like a checkpoint? A plan-time check on its first bytes.

The dry run reads a few bytes of every local weights file (``models.<key>.weights``,
``ct.ram.weights``), so that an empty file or something else (an HTML error page saved as
``.pth``, a text file) is refused before any job, in one line. The full, safe load
(:mod:`fmeval.io.checkpoints`: safetensors or ``torch.load(weights_only=True)``) stays in
the job. Cheap and offline: no torch.
"""

import os
import struct
from pathlib import Path

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default (zip) format
PICKLE_MAGIC = b"\x80"  # a pickle of protocol 2 or later: torch.save's legacy format
_FORMATS = "a safetensors file, or a torch.save checkpoint (zip or pickle)"


def checkpoint_problem(path: str | os.PathLike) -> str | None:
    """Why the file at ``path`` is not a checkpoint, in words; None when it starts like one.

    Accepted: a safetensors header (an 8-byte little-endian length n, then n bytes of JSON
    starting with ``{``, within the file), the zip magic ``PK\\x03\\x04`` or a pickle's
    protocol opcode ``\\x80``.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes)"
    with open(path, "rb") as fh:
        head = fh.read(9)
    if head.startswith(ZIP_MAGIC) or head.startswith(PICKLE_MAGIC):
        return None
    if len(head) == 9:
        (length,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and 8 + length <= size:
            return None
    return (
        f"does not start like a checkpoint (its first bytes are {head[:8]!r}; expected {_FORMATS})"
    )
