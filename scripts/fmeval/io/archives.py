"""Tarball and zip extraction that keeps every member inside its folder and within bounds.

Hostile archives are refused by member name: absolute names, ``..`` (path traversal),
symbolic and hard links, FIFOs and devices. The member count and the total bytes
extracted are bounded (``downloads.max_archive_members``, ``downloads.max_archive_bytes``),
checked against the headers before a byte is written, and only image and label files
(``suffixes``; the datasets pass their image suffixes) are extracted.
"""

import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fmeval.errors import DataError

DEFAULT_MAX_BYTES = 8 * 1024**3
DEFAULT_MAX_MEMBERS = 100_000
MEMBER_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_KINDS = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
}


@dataclass(frozen=True)
class Bounds:
    """The most one archive may extract (the config's ``downloads.max_archive_*``)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS


DEFAULT_BOUNDS = Bounds()

_FIX = "Do not use this archive: download it again from a source you trust (and check its sha256)."


def _over(key: str, kind: str) -> str:
    """The end of a bound-exceeded error: what it may be, and the config key that raises it."""
    return (
        f"refused (a {kind} bomb, or a dataset larger than the bound). Raise "
        f"`downloads.{key}` in your config if the archive is trusted."
    )


def _check_name(member: tarfile.TarInfo, *, what: str) -> PurePosixPath:
    name = PurePosixPath(member.name)
    if name.is_absolute() or member.name.startswith(("/", "\\")) or ":" in name.parts[0]:
        raise DataError(
            f"{what} has a member with an absolute name, {member.name!r}, which would be read "
            f"outside the extraction folder; refused. {_FIX}"
        )
    if ".." in name.parts:
        raise DataError(
            f"{what} has a member whose name climbs out of the extraction folder with '..' "
            f"(path traversal), {member.name!r}; refused. {_FIX}"
        )
    if member.type in _KINDS or not (member.isfile() or member.isdir()):
        kind = _KINDS.get(member.type, f"a special file (tar type {member.type!r})")
        link = f" to {member.linkname!r}" if member.linkname else ""
        raise DataError(
            f"{what} has a member that is {kind}{link}, {member.name!r}; refused. {_FIX}"
        )
    return name


def _wanted(name: PurePosixPath, suffixes: Iterable[str]) -> bool:
    return not any(p.startswith(".") for p in name.parts) and name.suffix.lower() in suffixes


def extract_tarball(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    what: str,
    bounds: Bounds = Bounds(),
    suffixes: Iterable[str] = MEMBER_SUFFIXES,
) -> list[Path]:
    """Extract the image and label members of a tarball into ``dest``; return their paths.

    The compressed stream is read to its end, so a damaged gzip trailer (CRC) is caught
    too. A hostile member or a bound exceeded is a :class:`DataError` that says which;
    a damaged archive is one error saying it is corrupt or truncated.
    """
    dest = Path(dest)
    suffixes = tuple(s.lower() for s in suffixes)
    found: list[Path] = []
    total = count = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                count += 1
                if count > bounds.max_members:
                    raise DataError(
                        f"{what} has more than {bounds.max_members} members; "
                        + _over("max_archive_members", "archive")
                    )
                name = _check_name(member, what=what)
                if not member.isfile() or not _wanted(name, suffixes):
                    continue
                total += member.size
                if total > bounds.max_bytes:
                    raise DataError(
                        f"{what} would extract more than {bounds.max_bytes} bytes (at least "
                        f"{total} bytes by member {member.name!r}); "
                        + _over("max_archive_bytes", "decompression")
                    )
                tar.extract(member, dest, filter="data")
                found.append(dest.joinpath(*name.parts))
            while tar.fileobj.read(1 << 20):
                pass
    except DataError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if (
            isinstance(exc, OSError)
            and not isinstance(exc, (tarfile.TarError, EOFError))
            and exc.errno
        ):
            raise  # the disk, not the archive: reported as an environment fault
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise DataError(
            f"{what} is not a readable tarball ({type(exc).__name__}: {reason}); "
            "it is corrupt or truncated. Download it again (and check its sha256)."
        ) from exc
    return sorted(found)


def extract_zip(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    what: str,
    bounds: Bounds = Bounds(),
) -> None:
    """Extract every member of a zip archive into ``dest``, with the tarball's rules.

    Names are checked (absolute, ``..``) and the member count and declared sizes bounded
    before a byte is written; zip has no links or devices to refuse (a Unix symlink is
    written as a small file holding its target).
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > bounds.max_members:
                raise DataError(
                    f"{what} has {len(members)} members, more than {bounds.max_members}; "
                    + _over("max_archive_members", "archive")
                )
            total = sum(m.file_size for m in members)
            if total > bounds.max_bytes:
                raise DataError(
                    f"{what} would extract {total} bytes, more than {bounds.max_bytes} "
                    "(the sizes its members declare); "
                    + _over("max_archive_bytes", "decompression")
                )
            for member in members:
                _check_name(_as_tar_member(member), what=what)
            zf.extractall(dest)
    except DataError:
        raise
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataError(
            f"{what} is not a readable zip archive ({type(exc).__name__}: {exc}); it is corrupt "
            "or truncated. Download it again."
        ) from exc


def _as_tar_member(member: zipfile.ZipInfo) -> tarfile.TarInfo:
    """A zip member seen as a tar member, so that one name check serves both formats."""
    info = tarfile.TarInfo(member.filename)
    info.type = tarfile.DIRTYPE if member.is_dir() else tarfile.REGTYPE
    return info
