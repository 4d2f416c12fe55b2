"""The host pipeline (issue 27): parallel decoding in order, the device-side normalisation's
bits, the writer thread's order, errors from either thread, no partial file, progress lines."""

import logging
from dataclasses import replace

import pyarrow.parquet as pq
import pytest
import torch

from fmeval.errors import DataError
from fmeval.features.extraction import extract_features, iter_batches, plan_extraction
from fmeval.features.loading import BatchLoader, inputs_ahead
from fmeval.features.writing import write_stream

CPU = torch.device("cpu")


def loader(**kw) -> BatchLoader:
    return BatchLoader(patch_size=14, device=CPU, **kw)


def test_workers_and_depth_keep_the_batches_in_order(model, items):
    spec, _ = model
    plan = plan_extraction(items, spec=spec, res=42, batch_size=2)
    assert len(plan.batches) > 3
    one = [x.clone() for x in inputs_ahead(plan.batches, loader(), workers=1, depth=0)]
    many = list(inputs_ahead(plan.batches, loader(), workers=4, depth=3))
    assert [x.shape for x in many] == [x.shape for x in one]
    assert all(a.numpy().tobytes() == b.numpy().tobytes() for a, b in zip(one, many))


@pytest.mark.parametrize("norm", [None, ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
def test_pixels_normalised_by_torch_have_the_bits_of_the_host_path(model, items, norm):
    """The GPU layout (8-bit pixels, normalised where the model is) gives the CPU's bits."""
    spec, _ = model
    batch = max(plan_extraction(items, spec=spec, res=42, batch_size=4).batches, key=len)
    host = loader(norm=norm)
    pixels = loader(norm=norm)
    pixels.on_host = False  # the layout a CUDA device gets (8-bit, channels last)
    x = next(inputs_ahead([batch], host, workers=2))
    u8 = next(inputs_ahead([batch], pixels, workers=2))
    assert u8.dtype == torch.uint8 and u8.shape[-1] == 3
    y = pixels.finish(u8, CPU)
    assert y.dtype == torch.float32 and y.numpy().tobytes() == x.numpy().tobytes()


def test_a_decoding_error_surfaces_for_its_batch_and_stops_the_workers(model, items):
    spec, _ = model
    plan = plan_extraction(items, spec=spec, res=42, batch_size=2)
    bad = replace(plan.batches[2][0], item=replace(plan.batches[2][0].item, image="gone.jpg"))
    batches = [*plan.batches[:2], [bad], *plan.batches[2:]]
    ahead = inputs_ahead(batches, loader(), workers=3, depth=2)
    assert next(ahead) is not None and next(ahead) is not None  # earlier batches arrive
    with pytest.raises(DataError, match="gone.jpg"):
        next(ahead)


class Boom(RuntimeError):
    pass


def test_the_writer_thread_writes_in_order_and_its_error_leaves_no_file(
    model, items, tmp_path, monkeypatch
):
    spec, net = model
    plan = plan_extraction(items, spec=spec, res=42, batch_size=2)
    batches = list(iter_batches(net, spec, plan, device=CPU))
    files = {}
    for ahead in (0, 2):
        files[ahead] = tmp_path / f"{ahead}.parquet"
        n = write_stream(
            iter(batches),
            plan,
            {"dataset": "s"},
            patches_out=files[ahead],
            cls_out=tmp_path / f"{ahead}.cls.parquet",
            ahead=ahead,
        )
        assert n == sum(t.num_rows for t, _ in batches)
    assert files[0].read_bytes() == files[2].read_bytes()
    threaded = pq.ParquetFile(files[2])
    assert threaded.num_row_groups == len(plan.batches)
    first = [threaded.read_row_group(i).column("image")[0].as_py() for i in range(len(batches))]
    assert first == [b[0].item.name for b in plan.batches]

    calls = []
    original = pq.ParquetWriter.write_table

    def failing(self, table, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Boom("disk full")
        return original(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing)
    with pytest.raises(Boom, match="disk full"):
        write_stream(
            iter(batches),
            plan,
            {"dataset": "s"},
            patches_out=tmp_path / "x.parquet",
            cls_out=tmp_path / "x.cls.parquet",
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{a}{s}.parquet" for a in (0, 2) for s in ("", ".cls")]
    )  # neither file, no temporary


def test_extraction_logs_done_total_rate_and_eta(model, items, caplog):
    spec, net = model
    with caplog.at_level(logging.INFO, logger="fmeval.features.extraction"):
        extract_features(net, spec, items, res=28, batch_size=2, device=CPU)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("extract:")]
    n = len(items)
    # a line per forward pass at most (each image on the CPU), the first always
    assert lines[0].startswith(f"extract: 1/{n} images") and "images/s" in lines[0]
    assert "ETA" in lines[0]
    assert lines[-1].startswith(f"extract: {n}/{n} images (100.0%)") and "done in" in lines[-1]
    assert not any("embedded" in r.getMessage() for r in caplog.records)
