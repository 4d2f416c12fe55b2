"""Sources: an ``https://`` URL, a ``file://`` URL or a local path, fetched and verified.

``http://`` is accepted only with a sha256 (the plan-time check, :func:`check_source`,
refuses it otherwise, and every other scheme); a redirect is held to the same rule (to
``https://``, or to ``http://`` when a sha256 is given; nothing else). A download is bounded in
time twice: no data for ``stall_timeout_s`` seconds, or not finished after ``deadline_s``
seconds (``downloads.deadline_s``), ends it, and after ``early_s`` seconds one that would not
finish in time at its rate ends then, saying how long it would take; a body cut short is an
error, never a file.
"""

import hashlib
import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from fmeval.errors import ConfigError, SourceError
from fmeval.io.atomic import atomic_path
from fmeval.io.headers import checkpoint_problem
from fmeval.io.transfer import EARLY_S, Redirects, check_rate, sha256_key_of
from fmeval.io.transfer import Failed as _Failed

TIMEOUT_S = 20  # the stall timeout: no byte for this long ends a download
DEADLINE_S = 30 * 60  # the default of `downloads.deadline_s`
REMOTE_SCHEMES = ("https", "http")
_CHUNK = 1 << 20
_KINDS = "use an https:// URL (http:// only with a sha256), a file:// URL or a local path"


def is_remote(source: str) -> bool:
    """True for sources fetched over the network (https, or http with a sha256)."""
    return urllib.parse.urlsplit(str(source)).scheme in REMOTE_SCHEMES


def local_path(source: str | os.PathLike) -> Path:
    """The local path of a ``file://`` URL or plain path source."""
    source = str(source)
    parts = urllib.parse.urlsplit(source)
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if parts.scheme and len(parts.scheme) > 1:
        raise SourceError(f"unsupported source {source!r}: {_KINDS}")
    return Path(source).expanduser()


def check_source(
    source: str,
    *,
    sha256: str | None,
    config_key: str,
    sha256_key: str = "sha256",
    local_only: bool = False,
    folder_ok: bool = False,
) -> None:
    """Refuse, at plan time, a source that cannot or must not be fetched.

    Unknown schemes (``ftp://``, ``gopher://``, ...) are refused, ``http://`` needs a
    sha256 (the transport proves nothing), and a ``file://`` URL or plain path must exist:
    a file, or with ``folder_ok`` a file or a folder (a dataset read in place).
    """
    source = str(source)
    scheme = urllib.parse.urlsplit(source).scheme
    remote_ok = not local_only
    if scheme in REMOTE_SCHEMES and remote_ok:
        if scheme == "http" and not sha256:
            raise ConfigError(
                f"`{config_key}` is the plain http:// URL {source}, which anything on the network "
                f"path can alter: give its sha256 (`{sha256_key}` beside it), or use https://"
            )
        return
    if scheme and scheme != "file" and len(scheme) > 1:
        kinds = "a local path or a file:// URL" if local_only else _KINDS
        raise ConfigError(
            f"`{config_key}` is {source!r}, whose scheme {scheme}:// is not supported; {kinds}"
        )
    path = local_path(source)
    if not (path.is_file() or (folder_ok and path.is_dir())):
        raise ConfigError(
            f"`{config_key}` is {source!r}, which does not exist (looked at {path.resolve()}); "
            "fix the path in your config (relative paths start at the working directory)"
        )


def check_config_sources(config: Mapping) -> None:
    """:func:`check_source` on every source of the config: datasets, model and RAM weights
    (a local weights file must also start like a checkpoint: :mod:`fmeval.io.headers`)."""
    for name, entry in config.get("datasets", {}).items():
        key = f"datasets.{name}"
        for part in ("images", "labels"):
            src = entry[part]
            if src.get("source") is not None:  # a folder, a tarball, or ...
                check_source(
                    src["source"],
                    sha256=src.get("sha256"),
                    config_key=f"{key}.{part}.source",
                    folder_ok=True,
                )
            for j, path in enumerate(src.get("files") or []):  # ... a list of local files
                check_source(
                    path, sha256=None, config_key=f"{key}.{part}.files[{j}]", local_only=True
                )
        for i, test in enumerate(entry.get("test_images") or []):
            check_source(
                test["image"], sha256=test.get("sha256"), config_key=f"{key}.test_images[{i}].image"
            )
            if test.get("mask"):
                check_source(
                    test["mask"],
                    sha256=test.get("mask_sha256"),
                    config_key=f"{key}.test_images[{i}].mask",
                    sha256_key="mask_sha256",
                )
    weights = {f"models.{k}.weights": m.get("weights") for k, m in config.get("models", {}).items()}
    weights["ct.ram.weights"] = config.get("ct", {}).get("ram", {}).get("weights")
    for key, value in weights.items():
        if value not in (None, "pretrained", "random"):
            check_source(value, sha256=None, config_key=key, local_only=True)
            problem = checkpoint_problem(local_path(value))
            if problem:
                raise ConfigError(
                    f"`{key}` is {value!r}, which {problem}; point it at the checkpoint file "
                    "itself (download it again if it was cut short)"
                )


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_error(exc: OSError, dest: Path) -> OSError:
    """``exc`` naming the output, not the temporary file it happened on."""
    return OSError(exc.errno, exc.strerror or str(exc), str(dest))


def _download(
    url: str,
    tmp: Path,
    dest: Path,
    *,
    stall_timeout_s: float,
    deadline_s: float,
    early_s: float = EARLY_S,
    redirects: Redirects | None = None,
) -> None:
    """Stream ``url`` into ``tmp``; raise a ``_Failed`` with the reason on any failure."""
    start = time.monotonic()
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": "fmeval"})
    redirects = redirects or Redirects(sha256=False, config_key=None, sha256_key=None)
    opener = urllib.request.build_opener(redirects)
    try:
        with opener.open(request, timeout=stall_timeout_s) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with open(tmp, "wb") as out:
                while True:
                    elapsed = time.monotonic() - start
                    if elapsed > deadline_s:
                        raise _Failed(
                            f"not finished after the {deadline_s:g} s deadline ({received} bytes "
                            "received); raise `downloads.deadline_s` in your config for a slow link"
                        )
                    if expected and elapsed > early_s:
                        check_rate(received, expected, elapsed, deadline_s)
                    chunk = response.read1(_CHUNK)
                    if not chunk:
                        break
                    received += len(chunk)
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise _write_error(exc, dest) from exc
            if expected is not None and received != expected:
                raise _Failed(
                    f"the connection closed after {received} of {expected} bytes (Content-Length)"
                )
    except _Failed:
        raise
    except urllib.error.HTTPError as exc:
        raise _Failed(f"HTTP {exc.code} {exc.reason}") from exc
    except http.client.IncompleteRead as exc:
        raise _Failed(
            f"the connection closed after {received} bytes, before the end of the response"
        ) from exc
    except (TimeoutError, http.client.HTTPException) as exc:
        what = (
            f"timed out: no data for {stall_timeout_s:g} s"
            if isinstance(exc, TimeoutError)
            else exc
        )
        raise _Failed(f"{what} ({received} bytes received)") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise _Failed(f"timed out: no answer for {stall_timeout_s:g} s") from exc
        raise _Failed(str(reason)) from exc
    except OSError as exc:
        if exc.filename is not None:  # a local write error: the disk, not the network
            raise
        raise _Failed(str(exc) or type(exc).__name__) from exc


@contextmanager
def fetched(source: str, beside: str | os.PathLike, *, name: str, **options) -> Iterator[Path]:
    """``source`` fetched (:func:`fetch` with ``options``) as ``name`` into a temporary folder
    beside ``beside`` (on its disk); the folder and the download are deleted on leaving."""
    with tempfile.TemporaryDirectory(dir=Path(beside).parent) as folder:
        yield fetch(source, Path(folder) / name, **options)


def fetch(
    source: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    what: str = "source",
    config_key: str | None = None,
    sha256_key: str | None = None,
    stall_timeout_s: float = TIMEOUT_S,
    deadline_s: float = DEADLINE_S,
    early_s: float = EARLY_S,
) -> Path:
    """Copy or download ``source`` to ``dest`` atomically, verifying ``sha256`` if given.

    ``what`` names the thing in errors and ``config_key`` is the config entry a user
    changes to point at a local copy instead; ``sha256_key`` the entry of its sha256
    (default: ``sha256`` beside ``config_key``). Errors name the source and the key, never
    a temporary file; a failure leaves nothing at ``dest``.
    """
    dest = Path(dest)
    sha256_key = sha256_key or sha256_key_of(config_key)
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
                _download(
                    source,
                    tmp,
                    dest,
                    stall_timeout_s=stall_timeout_s,
                    deadline_s=deadline_s,
                    early_s=early_s,
                    redirects=Redirects(
                        sha256=bool(sha256), config_key=config_key, sha256_key=sha256_key
                    ),
                )
            except _Failed as exc:
                more = hint if exc.hint else ""
                raise SourceError(f"cannot download {what} from {source}: {exc}.{more}") from None
        else:
            path = local_path(source)
            if not path.is_file():
                raise SourceError(
                    f"{what} {source!r} does not exist (looked at {path.resolve()}).{hint}"
                )
            try:
                shutil.copyfile(path, tmp)
            except OSError as exc:
                raise _write_error(exc, dest) from exc
        if sha256:
            actual = sha256_file(tmp)
            if actual.lower() != sha256.lower():
                key = f" (`{sha256_key}`)" if sha256_key else ""
                raise SourceError(
                    f"sha256 mismatch for {what} {source}: expected {sha256}, got {actual}. "
                    "The file is corrupt or has changed upstream; re-download it, or update "
                    f"the sha256 in your config{key} if the new file is trusted."
                )
    return dest
