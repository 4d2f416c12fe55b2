"""What ``feature_storage`` (fp16, bf16) does to the results and the files, against fp32.

Two parts (issue 27):

- ``--tables DIR...``: the report tables of whole runs, one folder per storage (named after
  it), each holding the run's ``ap.csv`` and ``test_scores.csv`` (segmentation) and
  ``scores.csv`` (video); prints the mean AP per (res, C), the test images' AP, and J&F per
  (method, sequence) of each storage, and the largest difference from fp32.
- ``--features FILE...``: fp32 feature files rewritten in each storage by fmeval's writer
  (the same row groups and options, fmeval.features.writing): the sizes, and how far the
  tokens moved (the largest relative error). Rounding is the last step of an extraction, so
  this is what ``feature_storage`` writes.

    for s in fp32 fp16 bf16; do
      snakemake results/report/segmentation/ap.csv results/report/segmentation/test_scores.csv \
        results/report/video/scores.csv --cores 2 \
        --configfile config/test.yaml config/test-video.yaml --config feature_storage=$s
      mkdir -p /tmp/storage/$s && cp results/report/segmentation/*.csv \
        results/report/video/scores.csv /tmp/storage/$s/
    done
    .venv/bin/python perf/storage.py --tables /tmp/storage/{fp32,fp16,bf16} \
        --features results/features/davis/dinov2_vits14/{224,448}.parquet
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from fmeval.features.storage import STORAGES, encode, to_float32  # noqa: E402
from fmeval.features.store import feature_column  # noqa: E402
from fmeval.features.writing import column_options  # noqa: E402

TABLES = {  # file: (key columns, value column)
    "ap.csv": (["res", "C"], "mean_ap"),
    "test_scores.csv": (["res", "image"], "ap"),
    "scores.csv": (["method", "sequence"], "J&F"),
}


def compare_tables(folders: list[Path]) -> None:
    base = next(f for f in folders if f.name == "fp32")
    for name, (keys, value) in TABLES.items():
        if not (base / name).is_file():
            continue
        frames = {f.name: pd.read_csv(f / name).set_index(keys)[value] for f in folders}
        table = pd.DataFrame(frames)
        print(f"{name} ({value}):")
        print(table.to_string(float_format=lambda v: f"{v:.6f}"))
        for storage in table.columns.drop("fp32"):
            diff = (table[storage] - table["fp32"]).abs()
            print(f"  {storage} - fp32: largest |difference| {diff.max():.2e} ({diff.idxmax()})")


def rewrite(path: Path, storage: str, out: Path) -> tuple[int, float]:
    """``path`` written again with its tokens in ``storage``: (bytes, largest relative error)."""
    pf = pq.ParquetFile(path)
    writer, worst = None, 0.0
    for i in range(pf.num_row_groups):
        table = pf.read_row_group(i)
        x = to_float32(table.column("feature").combine_chunks())
        stored = encode(x, storage)
        back = to_float32(feature_column(stored))
        scale = np.abs(x).max(axis=1, keepdims=True)
        worst = max(worst, float((np.abs(back - x) / np.maximum(scale, 1e-30)).max()))
        table = table.set_column(
            table.schema.get_field_index("feature"), "feature", feature_column(stored)
        )
        table = table.replace_schema_metadata(pf.schema_arrow.metadata)
        if writer is None:
            options = column_options(table.schema)
            writer = pq.ParquetWriter(out, table.schema, compression="zstd", **options)
        writer.write_table(table, row_group_size=table.num_rows)
    writer.close()
    return out.stat().st_size, worst


def compare_files(paths: list[Path]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            sizes = {s: rewrite(path, s, Path(tmp) / f"{s}.parquet") for s in STORAGES}
            full = sizes["fp32"][0]
            print(
                f"{path}: "
                + "; ".join(
                    f"{s} {b / 1e6:.1f} MB ({b / full:.2f}x), max error {e:.1e} of the row's max"
                    for s, (b, e) in sizes.items()
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=Path, nargs="*", default=[])
    parser.add_argument("--features", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    if args.tables:
        compare_tables(args.tables)
    if args.features:
        compare_files(args.features)


if __name__ == "__main__":
    main()
