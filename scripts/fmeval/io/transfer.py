"""What a download may do: where a server may redirect it, and how slow it may be.

A redirect may go to ``https://``, or to ``http://`` only when the download has a sha256 (as
the plan-time rule on plain http); ``ftp://``, ``file://`` and anything else are refused. A
download that has run for ``EARLY_S`` seconds and would not finish before its deadline at its
rate so far ends then, saying how long it would take.
"""

import urllib.parse
import urllib.request

EARLY_S = 60  # after this long, a download that would miss the deadline at its rate ends


class Failed(Exception):
    """Why a download failed, in words; ``hint``: add how to run offline (not for a refusal
    whose fix is in the config)."""

    def __init__(self, reason: str, *, hint: bool = True):
        super().__init__(reason)
        self.hint = hint


def sha256_key_of(config_key: str | None) -> str | None:
    """The config key of the sha256 beside a source's key (``….source`` → ``….sha256``)."""
    parent, _, last = (config_key or "").rpartition(".")
    names = {"source": "sha256", "image": "sha256", "mask": "mask_sha256", "sha256": "sha256"}
    return f"{parent}.{names[last]}" if parent and last in names else None


class Redirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to https://, or to http:// when the download has a sha256:
    a redirect must not get round the plan-time rule on plain http (nor go to ftp:// or
    file://)."""

    def __init__(self, *, sha256: bool, config_key: str | None, sha256_key: str | None):
        super().__init__()
        self.sha256, self.config_key, self.sha256_key = sha256, config_key, sha256_key

    def http_error_302(self, req, fp, code, msg, headers):  # noqa: D102 - urllib's name
        location = headers.get("location") or headers.get("uri")
        if location:
            target = urllib.parse.urljoin(req.full_url, location.strip())
            scheme = urllib.parse.urlsplit(target).scheme
            if scheme != "https" and not (scheme == "http" and self.sha256):
                key = f"`{self.config_key}`" if self.config_key else "the source"
                if scheme == "http":
                    give = f"give its sha256 (`{self.sha256_key}`) or " if self.sha256_key else ""
                    why = (
                        "a plain http:// URL, which anything on the network path can alter, "
                        f"while {key} has no sha256: {give}point {key} at an https:// URL "
                        "that is not redirected, or a local copy"
                    )
                else:
                    why = (
                        f"a redirect may only go to https:// (or to http:// when {key} has a "
                        f"sha256): point {key} at the file's final https:// URL or a local copy"
                    )
                raise Failed(
                    f"the server redirected it (HTTP {code}) to {target}; refused: {why}",
                    hint=False,
                )
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def check_rate(received: int, expected: int, elapsed: float, deadline_s: float) -> None:
    """End a download now that would not finish within ``deadline_s`` at its rate so far."""
    rate = received / elapsed
    total = expected / rate if rate > 0 else float("inf")
    if total <= deadline_s:
        return
    would = f"about {_duration(total)}" if rate > 0 else "forever"
    speed = f"{rate:.0f} B/s" if rate < 1000 else f"{rate / 1000:.0f} kB/s"
    raise Failed(
        f"too slow: {received} of {expected} bytes in {elapsed:.0f} s ({speed}); at this rate "
        f"it would take {would}, past the {_duration(deadline_s)} deadline; raise "
        "`downloads.deadline_s` in your config for a slow link, or use a local copy"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
