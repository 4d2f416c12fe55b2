"""The output folders' check at the start of a run: one line naming the folder and the fix."""

import errno
import tempfile

import pytest

from fmeval.io.writable import UnwritableFolder, check_writable, mounts_below


def test_writable_folders_pass_and_leave_nothing(tmp_path):
    (tmp_path / "results").mkdir()
    check_writable(base=tmp_path)
    assert list((tmp_path / "results").iterdir()) == []


@pytest.mark.parametrize(
    "code, words",
    [
        (errno.EROFS, "read-only file system (EROFS); nothing was run. Remount it read-write"),
        (errno.EACCES, "permission denied (EACCES); nothing was run. Make it writable"),
    ],
)
def test_an_unwritable_folder_is_one_line_with_the_fix(tmp_path, monkeypatch, code, words):
    (tmp_path / "results").mkdir()
    real = tempfile.mkstemp

    def refuse(*args, dir=None, **kwargs):
        if str(dir).endswith("results"):
            raise OSError(code, "refused", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(UnwritableFolder) as info:
        check_writable(base=tmp_path)
    message = str(info.value)
    assert f"cannot write in {tmp_path / 'results'}/: {words}" in message, message
    assert len(message.splitlines()) == 1


def test_a_folder_not_made_yet_is_checked_where_it_would_be_made(tmp_path, monkeypatch):
    def refuse(*args, dir=None, **kwargs):
        raise OSError(errno.EROFS, "refused", str(dir))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(UnwritableFolder, match=rf"{tmp_path}/ \(where .*results/ would be made\)"):
        check_writable(base=tmp_path)


def test_mounts_below_the_output_folders_are_checked_too(tmp_path):
    info = tmp_path / "mountinfo"
    lines = [
        f"36 35 98:0 / {tmp_path} rw - ext4 /dev/a rw",
        f"37 36 98:1 / {tmp_path}/results/with\\040space ro - ext4 /dev/b ro",
        "38 35 98:2 / /elsewhere rw - ext4 /dev/c rw",
    ]
    info.write_text("\n".join(lines) + "\n")
    found = mounts_below([tmp_path / "results", tmp_path / "logs"], mountinfo=info)
    assert found == [tmp_path / "results" / "with space"]
