"""Archives: extract a tarball's regular files inside one folder, or fail with one clear error."""

import os
import tarfile
import zlib
from pathlib import Path

from fmeval.errors import DataError


def extract_tarball(
    archive: str | os.PathLike, dest: str | os.PathLike, *, what: str
) -> list[Path]:
    """Extract the regular files of a tarball safely; a corrupt archive is one clear error.

    The compressed stream is read to its end, so a damaged gzip trailer (CRC) is
    caught too, not only damage inside the members.
    """
    dest = Path(dest)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            tar.extractall(dest, members=members, filter="data")
            while tar.fileobj.read(1 << 20):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise DataError(
            f"{what} is not a readable tarball ({type(exc).__name__}: {reason}); "
            "it is corrupt or truncated. Download it again (and check its sha256)."
        ) from exc
    return sorted(dest / m.name for m in members)
