"""Sources: an ``https://`` URL, a ``file://`` URL or a local path, fetched and verified."""

import hashlib
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from fmeval.errors import SourceError
from fmeval.io.atomic import atomic_path

TIMEOUT_S = 20
_CHUNK = 1 << 20


def is_remote(source: str) -> bool:
    """True for sources fetched over the network (http, https, ftp)."""
    return urllib.parse.urlsplit(str(source)).scheme in {"http", "https", "ftp"}


def local_path(source: str | os.PathLike) -> Path:
    """The local path of a ``file://`` URL or plain path source."""
    source = str(source)
    parts = urllib.parse.urlsplit(source)
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if parts.scheme and len(parts.scheme) > 1:
        raise SourceError(
            f"unsupported source {source!r}: use an https:// URL, a file:// URL or a local path"
        )
    return Path(source).expanduser()


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(
    source: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    what: str = "source",
    config_key: str | None = None,
) -> Path:
    """Copy or download ``source`` to ``dest`` atomically, verifying ``sha256`` if given.

    ``what`` names the thing in errors and ``config_key`` is the config entry a user
    changes to point at a local copy instead.
    """
    dest = Path(dest)
    hint = (
        f" To run offline, download it on a machine with internet access and set `{config_key}` "
        "in your config (config.yaml, or the file given to --configfile) to the local path or "
        "a file:// URL; the other downloads need local copies too (README, *Air-gapped*)."
        if config_key
        else ""
    )
    with atomic_path(dest) as tmp:
        if is_remote(source):
            try:
                request = urllib.request.Request(source, headers={"User-Agent": "fmeval"})
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                    with open(tmp, "wb") as out:
                        shutil.copyfileobj(response, out, _CHUNK)
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise SourceError(
                    f"cannot download {what} from {source} ({reason}).{hint}"
                ) from exc
        else:
            path = local_path(source)
            if not path.is_file():
                raise SourceError(
                    f"{what} {source!r} does not exist (looked at {path.resolve()}).{hint}"
                )
            shutil.copyfile(path, tmp)
        if sha256:
            actual = sha256_file(tmp)
            if actual.lower() != sha256.lower():
                raise SourceError(
                    f"sha256 mismatch for {what} {source}: expected {sha256}, got {actual}. "
                    "The file is corrupt or has changed upstream; re-download it, or update "
                    f"the sha256 in your config{f' (`{config_key}`)' if config_key else ''} if "
                    "the new file is trusted."
                )
    return dest
