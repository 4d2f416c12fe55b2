import json

import numpy as np
import pyarrow as pa
import pytest

from fmeval.classify.embeddings import gather_embeddings, mean_patch_tokens, read_embeddings
from fmeval.errors import DataError
from fmeval.features.store import feature_column, read_features
from fmeval.io.tables import write_table


def feature_files(tmp_path, grids, dim=6, seed=0):
    """Patch and CLS files laid out as extract_features writes them."""
    rng = np.random.default_rng(seed)
    names = list(grids)
    n = [r * c for r, c in grids.values()]
    split = ["train" if i % 2 == 0 else "test" for i in range(len(names))]
    feats = rng.normal(size=(sum(n), dim)).astype(np.float32)
    patches = pa.table(
        {
            "image": pa.array(np.repeat(names, n).astype(object)).dictionary_encode(),
            "split": pa.array(np.repeat(split, n).astype(object)).dictionary_encode(),
            "row": np.zeros(sum(n), np.int16),
            "col": np.zeros(sum(n), np.int16),
            "fg_fraction": pa.nulls(sum(n), pa.float32()),
            "feature": feature_column(feats),
        }
    )
    cls = pa.table(
        {
            "image": names,
            "split": split,
            "cls": feature_column(rng.normal(size=(len(names), dim)).astype(np.float32)),
        }
    )
    meta = {"dataset": "d", "model": "m", "res": 28, "random_init": True, "grids": grids}
    write_table(patches, tmp_path / "p.parquet", meta=meta)
    write_table(cls, tmp_path / "c.parquet", meta=meta)
    return tmp_path / "p.parquet", tmp_path / "c.parquet", names, split


def test_streamed_mean_equals_the_mean_of_each_images_patches(tmp_path):
    grids = {"x": (2, 3), "y": (4, 4), "z": (1, 5), "w": (3, 3)}
    patches, _, names, _ = feature_files(tmp_path, grids)
    ref = read_features(patches)
    want = np.stack([ref.features[ref.rows_of(n)].mean(0) for n in names])
    for batch_rows in (5, 7, 1000):  # batches that cut images apart, and one batch
        got = mean_patch_tokens(patches, names, batch_rows=batch_rows)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_gather_joins_labels_and_keeps_the_random_flag(tmp_path):
    grids = {"train/a/0": (2, 2), "test/a/0": (2, 2), "train/b/0": (1, 2), "test/b/0": (2, 1)}
    patches, cls, names, split = feature_files(tmp_path, grids)
    manifest = tmp_path / "manifest.json"
    record = {"task": "classification", "classes": ["a", "b"], "train": [], "test": []}
    for n, s in zip(names, split):
        record[s].append({"name": n, "image": f"{n}.png", "mask": None, "label": n.split("/")[1]})
    manifest.write_text(json.dumps(record))
    gather_embeddings(
        dataset_manifest=str(manifest),
        cls=str(cls),
        patches=str(patches),
        embeddings=str(tmp_path / "e.parquet"),
    )
    emb = read_embeddings(tmp_path / "e.parquet")
    assert emb.classes == ["a", "b"] and emb.meta["random_init"] is True
    assert emb.labels.tolist() == [0, 0, 1, 1]
    assert emb.vectors["mean_patch"].shape == (4, 6)


def test_features_of_another_dataset_are_refused(tmp_path):
    patches, cls, _, _ = feature_files(tmp_path, {"u": (1, 1), "v": (1, 1)})
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "task": "classification",
                "classes": ["a", "b"],
                "train": [{"name": "other", "image": "o.png", "mask": None, "label": "a"}],
                "test": [],
            }
        )
    )
    with pytest.raises(DataError, match="does not hold the images"):
        gather_embeddings(
            dataset_manifest=str(manifest),
            cls=str(cls),
            patches=str(patches),
            embeddings=str(tmp_path / "e.parquet"),
        )
    assert not (tmp_path / "e.parquet").exists()
