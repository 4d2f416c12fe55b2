import io
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from fmeval.classify.cifar import SafeUnpickler, decode_cifar, safe_load
from fmeval.classify.download import download_classification_dataset, read_labels
from fmeval.errors import DataError
from tests.unit.classify.cifar_archives import (
    CLASSES,
    FOLDER,
    Exploit,
    batch,
    cifar_members,
    dumps,
    write_archive,
)


def test_fixture_pickles_name_numpy_like_the_official_archive():
    assert b"cnumpy.core.multiarray\n_reconstruct" in dumps(batch(2, seed=0))


def test_decode_writes_every_image_to_its_class_folder(tmp_path):
    archive = write_archive(tmp_path / "cifar.tar.gz", cifar_members(n=6))
    out = decode_cifar(archive, tmp_path / "images")
    train = sorted((out / "train").rglob("*.png"))
    test = sorted((out / "test").rglob("*.png"))
    assert len(train) == 30 and len(test) == 6
    assert sorted(p.name for p in (out / "train").iterdir()) == sorted(CLASSES)
    # pixel check: row 4 of data_batch_2 (label 4 % 3 = 1) is channel-major 3 x 32 x 32
    expected = batch(6, seed=2)[b"data"][4].reshape(3, 32, 32).transpose(1, 2, 0)
    got = np.asarray(Image.open(out / "train" / CLASSES[1] / "data_batch_2-00004.png"))
    np.testing.assert_array_equal(got, expected)


def test_download_writes_a_labelled_manifest(tmp_path):
    archive = write_archive(tmp_path / "cifar.tar.gz", cifar_members(n=6))
    manifest = download_classification_dataset(
        name="tiny",
        source=str(archive),
        sha256=None,
        format="cifar10",
        test_fraction=0.5,
        seed=0,
        out_dir=tmp_path / "ds",
    )
    labels, classes, images = read_labels(manifest)
    assert classes == CLASSES
    assert len(labels) == 36 and all(p.is_file() for p in images.values())
    assert labels["test/bird/test_batch-00005"] == "bird"  # 5 % 3 = 2


def test_batch_with_a_wrong_shape_is_one_clear_error(tmp_path):
    bad = dumps(batch(4, seed=3, row=3 * 16 * 16))
    archive = write_archive(tmp_path / "bad.tar.gz", cifar_members(data_batch_3=bad))
    with pytest.raises(DataError, match=r"data_batch_3.*shape \(4, 768\).*\(N, 3072\)"):
        decode_cifar(archive, tmp_path / "images")


def test_labels_out_of_range_are_refused(tmp_path):
    archive = write_archive(
        tmp_path / "bad.tar.gz", cifar_members(test_batch=dumps(batch(4, seed=1, n_classes=5)))
    )
    with pytest.raises(DataError, match="labels outside"):
        decode_cifar(archive, tmp_path / "images")


def test_exploit_fixture_is_live_with_plain_pickle(tmp_path):
    marker = tmp_path / "plain-marker"
    pickle.loads(pickle.dumps(Exploit(marker)))  # what an unrestricted reader would do
    assert marker.exists()


def test_pickle_that_runs_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "marker"
    evil = pickle.dumps({b"data": Exploit(marker), b"labels": []}, protocol=3)
    with pytest.raises(DataError, match=r"refused global (io|builtins)\.open"):
        safe_load(evil, what="evil batch")
    assert not marker.exists()
    archive = write_archive(tmp_path / "evil.tar.gz", cifar_members(data_batch_1=evil))
    with pytest.raises(DataError, match="refused global"):
        decode_cifar(archive, tmp_path / "images")
    assert not marker.exists()


@pytest.mark.parametrize(
    "target", [("os", "system"), ("subprocess", "Popen"), ("builtins", "eval")]
)
def test_unpickler_refuses_other_globals(target):
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        SafeUnpickler(__import__("io").BytesIO(b"")).find_class(*target)


def test_archive_without_a_batch_is_one_clear_error(tmp_path):
    members = cifar_members()
    del members["test_batch"]
    archive = write_archive(tmp_path / "short.tar.gz", members)
    with pytest.raises(DataError, match=r"lacks \['test_batch'\]"):
        decode_cifar(archive, tmp_path / "images")


def test_a_batch_that_is_a_link_is_refused_and_nothing_is_extracted(tmp_path):
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in cifar_members().items():
            if name == "data_batch_2":
                info = tarfile.TarInfo(f"{FOLDER}/{name}")
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
                continue
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="data_batch_2.*not a single regular file"):
        decode_cifar(archive, tmp_path / "images")
    assert not list(tmp_path.rglob("data_batch_*"))
