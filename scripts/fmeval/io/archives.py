"""Tarball and zip extraction that keeps every member inside its folder and within bounds.

Hostile archives are refused by member name: absolute names, ``..`` (path traversal),
symbolic and hard links, FIFOs and devices. The member count and the total bytes
extracted are bounded (``downloads.max_archive_members``, ``downloads.max_archive_bytes``),
checked against the headers before a byte is written, and only image and label files
(``suffixes``; the datasets pass their image suffixes) are extracted. The expansion is
bounded too (``downloads.max_archive_ratio``): a member whose uncompressed bytes would reach
beyond that many times the archive's size on disk (a zip member: its own compressed size)
is refused from its header, before it is decompressed, whether it is extracted or not; a
zip's other members are skipped without being decompressed (a gzip stream has to be
decompressed to reach the next member, which the ratio bound counts).
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
DEFAULT_MAX_RATIO = 200.0  # uncompressed / compressed bytes
RATIO_FLOOR = 8 * 1024**2  # an archive may always expand to this many bytes
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
    max_ratio: float = DEFAULT_MAX_RATIO

    def expansion(self, compressed: int) -> int:
        """The most uncompressed bytes that ``compressed`` bytes may expand to."""
        return max(int(self.max_ratio * compressed), RATIO_FLOOR)


DEFAULT_BOUNDS = Bounds()

_FIX = "Do not use this archive: download it again from a source you trust (and check its sha256)."


def _over(key: str, kind: str) -> str:
    """The end of a bound-exceeded error: what it may be, and the config key that raises it."""
    return (
        f"refused (a {kind} bomb, or a dataset larger than the bound). Raise "
        f"`downloads.{key}` in your config if the archive is trusted."
    )


def _ratio_bomb(what: str, name: str, end: int, compressed: int, bounds: Bounds) -> DataError:
    return DataError(
        f"{what} would expand to more than {bounds.max_ratio:g} times its {compressed} "
        f"compressed bytes (member {name!r} reaches byte {end} uncompressed); "
        + _over("max_archive_ratio", "decompression")
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
    compressed = os.path.getsize(archive)
    most = bounds.expansion(compressed)
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
                wanted = member.isfile() and _wanted(name, suffixes)
                if wanted:
                    total += member.size
                    if total > bounds.max_bytes:
                        raise DataError(
                            f"{what} would extract more than {bounds.max_bytes} bytes (at least "
                            f"{total} bytes by member {member.name!r}); "
                            + _over("max_archive_bytes", "decompression")
                        )
                end = member.offset_data + member.size  # in the uncompressed stream
                if end > most:  # refused from its header, before it is decompressed
                    raise _ratio_bomb(what, member.name, end, compressed, bounds)
                if wanted:
                    tar.extract(member, dest, filter="data")
                    found.append(dest.joinpath(*name.parts))
            end = tar.fileobj.tell()  # the rest is read for the gzip CRC, bounded too
            while chunk := tar.fileobj.read(1 << 20):
                end += len(chunk)
                if end > most:
                    raise _ratio_bomb(what, "(after the last member)", end, compressed, bounds)
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
    suffixes: Iterable[str] | None = None,
) -> None:
    """Extract the members of a zip archive into ``dest``, with the tarball's rules.

    Names are checked (absolute, ``..``) and the member count, declared sizes and each
    member's expansion (its size over its compressed size) bounded before a byte is
    written; with ``suffixes`` only those files are extracted, the others are never
    decompressed. Zip has no links or devices to refuse (a Unix symlink is written as a
    small file holding its target).
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > bounds.max_members:
                raise DataError(
                    f"{what} has {len(members)} members, more than {bounds.max_members}; "
                    + _over("max_archive_members", "archive")
                )
            for member in members:  # every name, extracted or not
                _check_name(_as_tar_member(member), what=what)
            if suffixes is not None:
                wanted = tuple(s.lower() for s in suffixes)
                members = [
                    m
                    for m in members
                    if not m.is_dir() and _wanted(PurePosixPath(m.filename), wanted)
                ]
            for member in members:
                if member.file_size > bounds.expansion(member.compress_size):
                    raise _ratio_bomb(
                        what, member.filename, member.file_size, member.compress_size, bounds
                    )
            total = sum(m.file_size for m in members)
            if total > bounds.max_bytes:
                raise DataError(
                    f"{what} would extract {total} bytes, more than {bounds.max_bytes} "
                    "(the sizes its members declare); "
                    + _over("max_archive_bytes", "decompression")
                )
            zf.extractall(dest, members=members)
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
