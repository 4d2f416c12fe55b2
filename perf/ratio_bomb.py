"""Time to refuse a gzip ratio bomb (issue 23): a ~6.5 MB .tar.gz whose one non-image member
declares 6.7 GB of zeros, extracted with the default ratio bound (refused from the member's
header) and with the bound lifted (the stream decompressed to its end, as before issue 23).

    PYTHONPATH=scripts .venv/bin/python perf/ratio_bomb.py [--gib 6.25]
"""

import argparse
import gzip
import tarfile
import tempfile
import time
from pathlib import Path

from fmeval.errors import DataError
from fmeval.io.archives import Bounds, extract_tarball

BLOCK = 64 * 1024**2


def bomb(path: Path, blocks: int) -> Path:
    """A tar header, then ``blocks`` gzip members of 64 MiB of zeros each (cheap to write)."""
    info = tarfile.TarInfo("junk/weights.bin")
    info.size = blocks * BLOCK
    zeros = gzip.compress(bytes(BLOCK), 6)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(info.tobuf()))
        for _ in range(blocks):
            fh.write(zeros)
        fh.write(gzip.compress(bytes(1024)))  # the tar's end blocks
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=6.25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = bomb(Path(folder) / "bomb.tar.gz", round(args.gib * 1024**3 / BLOCK))
        print(f"archive: {path.stat().st_size} bytes")
        for bounds in (Bounds(), Bounds(max_ratio=1e12)):
            start = time.monotonic()
            try:
                extract_tarball(path, Path(folder) / "out", what="bomb", bounds=bounds)
                outcome = "read to its end (nothing extracted)"
            except DataError:
                outcome = "refused"
            print(f"max_ratio {bounds.max_ratio:g}: {outcome} in {time.monotonic() - start:.2f} s")


if __name__ == "__main__":
    main()
