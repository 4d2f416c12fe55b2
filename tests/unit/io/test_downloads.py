"""Downloads against a local HTTP(S) server: complete, verified, bounded in time, clean errors."""

import hashlib
import time

import pytest

from fmeval.errors import ConfigError, SourceError
from fmeval.io.sources import DEADLINE_S, check_source, fetch

BODY = bytes(range(256)) * 400  # 100 kB
SHA = hashlib.sha256(BODY).hexdigest()
KEY = "datasets.d.images.source"


def _fails(url, dest, **kwargs) -> str:
    with pytest.raises(SourceError) as info:
        fetch(url, dest, what="d images tarball", config_key=KEY, **kwargs)
    message = str(info.value)
    assert url in message, message
    assert KEY in message, message
    assert ".tmp-" not in message, message  # never a temporary path that no longer exists
    assert not dest.exists()
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".tmp-")]
    return message


def test_http_download_with_sha256(tmp_path, http_server):
    http_server.serve("a.tar", BODY)
    dest = fetch(http_server.url("ok/a.tar"), tmp_path / "a.tar", sha256=SHA, config_key=KEY)
    assert dest.read_bytes() == BODY


def test_https_download_trusts_the_ca_of_ssl_cert_file(tmp_path, https_server):
    https_server.serve("a.tar", BODY)
    dest = fetch(https_server.url("ok/a.tar"), tmp_path / "a.tar", config_key=KEY)
    assert dest.read_bytes() == BODY


def test_complete_chunked_download(tmp_path, http_server):
    http_server.serve("a.tar", BODY)
    assert fetch(http_server.url("chunked/a.tar"), tmp_path / "a").read_bytes() == BODY


@pytest.mark.parametrize("server", ["http_server", "https_server"])
def test_body_shorter_than_content_length_is_refused(tmp_path, server, request):
    srv = request.getfixturevalue(server)
    srv.serve("a.tar", BODY)
    message = _fails(srv.url("short/a.tar"), tmp_path / "a.tar")
    assert "connection closed" in message and f"{len(BODY) // 2} of {len(BODY)} bytes" in message


def test_cut_chunked_response_is_one_clear_error(tmp_path, http_server):
    http_server.serve("a.tar", BODY)
    message = _fails(http_server.url("chunked-cut/a.tar"), tmp_path / "a.tar")
    assert "connection closed" in message


def test_wrong_body_fails_its_sha256(tmp_path, http_server):
    http_server.serve("a.tar", BODY[::-1])
    with pytest.raises(SourceError) as info:
        fetch(http_server.url("ok/a.tar"), tmp_path / "a.tar", sha256=SHA, config_key=KEY)
    message = str(info.value)
    assert "sha256 mismatch" in message and SHA in message
    # the key to update is the sha256 beside the source, not the source
    assert "`datasets.d.images.sha256`" in message and KEY not in message, message
    assert not (tmp_path / "a.tar").exists()


@pytest.mark.parametrize(
    "key, sha_key",
    [
        ("datasets.d.test_images[0].image", "datasets.d.test_images[0].sha256"),
        ("datasets.d.test_images[0].mask", "datasets.d.test_images[0].mask_sha256"),
        ("video.datasets.v.source", "video.datasets.v.sha256"),
    ],
)
def test_sha256_mismatch_names_the_sha256_key_of_each_kind_of_source(tmp_path, key, sha_key):
    src = tmp_path / "src.bin"
    src.write_bytes(BODY[::-1])
    with pytest.raises(SourceError) as info:
        fetch(str(src), tmp_path / "a.bin", sha256=SHA, config_key=key)
    assert f"`{sha_key}`" in str(info.value), info.value


# --- redirects: only to https://, or to http:// with a sha256 --------------------------


def _redirecting(https_server, http_server, target: str) -> str:
    """An https URL that the server redirects to ``target`` (``http``: the http server)."""
    http_server.serve("a.tar", BODY)
    https_server.serve("a.tar", BODY)
    targets = {
        "http": http_server.url("ok/a.tar"),
        "https": https_server.url("ok/a.tar"),
        "ftp": "ftp://127.0.0.1:1/a.tar",
        "file": "file:///etc/hostname",
    }
    https_server.redirects["a.tar"] = targets[target]
    return https_server.url("redirect/a.tar")


@pytest.mark.parametrize("target", ["http", "ftp", "file"])
def test_redirect_away_from_https_is_refused(tmp_path, https_server, http_server, target):
    url = _redirecting(https_server, http_server, target)
    message = _fails(url, tmp_path / "a.tar")
    assert "redirected it (HTTP 302) to " + https_server.redirects["a.tar"] in message, message
    assert len(message.splitlines()) == 1
    if target == "http":
        assert "`datasets.d.images.sha256`" in message and "no sha256" in message
        assert http_server.requests == []  # never fetched
    else:
        assert "; refused: a redirect may only go to https://" in message
        assert "To run offline" not in message  # the fix is the config's URL, not a copy


def test_redirect_to_https_is_followed(tmp_path, https_server, http_server):
    url = _redirecting(https_server, http_server, "https")
    assert fetch(url, tmp_path / "a.tar", config_key=KEY).read_bytes() == BODY


def test_redirect_to_http_is_followed_when_the_sha256_is_given(tmp_path, https_server, http_server):
    url = _redirecting(https_server, http_server, "http")
    dest = fetch(url, tmp_path / "a.tar", sha256=SHA, config_key=KEY)
    assert dest.read_bytes() == BODY and http_server.requests == ["/ok/a.tar"]


def test_404_names_the_status(tmp_path, http_server):
    message = _fails(http_server.url("ok/missing.tar"), tmp_path / "a.tar")
    assert "404" in message


def test_trickling_server_hits_the_overall_deadline(tmp_path, http_server):
    http_server.serve("a.tar", BODY)
    http_server.trickle_s = 0.1  # one byte every 0.1 s: never stalls, never finishes
    start = time.monotonic()
    message = _fails(http_server.url("trickle/a.tar"), tmp_path / "a.tar", deadline_s=1.0)
    assert time.monotonic() - start < 5
    assert "downloads.deadline_s" in message and "1 s" in message


def test_slow_download_says_early_how_long_it_would_take(tmp_path, http_server):
    http_server.serve("a.tar", BODY)
    http_server.trickle_s = 0.01  # ~100 bytes/s: 100 kB would take ~17 min
    start = time.monotonic()
    message = _fails(
        http_server.url("trickle/a.tar"), tmp_path / "a.tar", deadline_s=60.0, early_s=0.5
    )
    assert time.monotonic() - start < 5  # said after early_s, not at the deadline
    assert "too slow" in message and "it would take about" in message, message
    assert "min, past the 60 s deadline" in message and "downloads.deadline_s" in message


def test_stalled_server_hits_the_stall_timeout(tmp_path, http_server):
    http_server.serve("a.tar", BODY)
    start = time.monotonic()
    message = _fails(http_server.url("stall/a.tar"), tmp_path / "a.tar", stall_timeout_s=0.5)
    assert time.monotonic() - start < 5
    assert "timed out" in message


def test_default_deadline_is_thirty_minutes():
    assert DEADLINE_S == 30 * 60


def test_local_copy_error_names_the_source_not_a_temporary(tmp_path, monkeypatch):
    import shutil

    src = tmp_path / "src.tar"
    src.write_bytes(BODY)

    def full(a, b, *args, **kwargs):
        raise OSError(28, "No space left on device", str(b))

    monkeypatch.setattr(shutil, "copyfile", full)
    with pytest.raises(OSError) as info:
        fetch(str(src), tmp_path / "out" / "a.tar", config_key=KEY)
    assert ".tmp-" not in str(info.value)
    assert str(tmp_path / "out" / "a.tar") in str(info.value)


# --- plan-time checks of a source (the dry run refuses them) ---------------------------


@pytest.mark.parametrize(
    "source", ["gopher://example.org/x.tar", "ftp://example.org/x.tar", "data:,hello", "s3://b/k"]
)
def test_unknown_schemes_are_refused_at_plan_time(source):
    with pytest.raises(ConfigError) as info:
        check_source(source, sha256=None, config_key=KEY)
    assert source in str(info.value) and KEY in str(info.value)
    assert "https://" in str(info.value)


def test_plain_http_needs_a_sha256():
    with pytest.raises(ConfigError) as info:
        check_source("http://example.org/x.tar", sha256=None, config_key=KEY)
    assert "sha256" in str(info.value) and KEY in str(info.value)
    check_source("http://example.org/x.tar", sha256=SHA, config_key=KEY)
    check_source("https://example.org/x.tar", sha256=None, config_key=KEY)


def test_local_sources_must_exist_at_plan_time(tmp_path):
    present = tmp_path / "x.tar"
    present.write_bytes(b"x")
    check_source(str(present), sha256=None, config_key=KEY)
    check_source(present.as_uri(), sha256=None, config_key=KEY)
    for missing in (str(tmp_path / "nope.tar"), (tmp_path / "nope.tar").as_uri()):
        with pytest.raises(ConfigError) as info:
            check_source(missing, sha256=None, config_key=KEY)
        assert "does not exist" in str(info.value) and KEY in str(info.value)
