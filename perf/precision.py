"""AP of the linear probe on fp32 features against bf16 features of the same model and frames.

Extracts the DAVIS frames (15 train + 2 test, ../shared/data/davis2016-fg) twice with the
same backbone, once per precision, through fmeval's own extraction
(:func:`fmeval.features.extraction.stream_features`), then runs fmeval's probe on each file:
the cross-validation over C (``run_cross_validation``), the final fit at the best C
(``run_fit``) and the AP of its patch scores on the test frames (patches > 0.5 foreground
are positive). It prints both APs, their difference and how far the features moved
(relative L2 norm and cosine of the patch features).

The backbone has RANDOM weights (no download here), so the APs themselves are not a
model's result; the difference measures what bf16 does to the features and the probe.

    python perf/precision.py --device cuda --arch vits14 --res 448
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "perf"))

from extract_features import ARCHS, DATA, OFFICIAL_HUB, build_model, load_items

from fmeval.features.backbones import load_manifest
from fmeval.features.extraction import plan_extraction, provenance, stream_features
from fmeval.features.store import read_features
from fmeval.runtime import pick_device
from fmeval.seg.cv import run_cross_validation
from fmeval.seg.fit import load_probe, run_fit

PROBE = {"fg_threshold": 0.99, "bg_threshold": 0.01, "max_iter": 10000}
CS = [0.01, 0.1, 1.0]


def extract(model, spec, manifest, items, *, res, precision, device, folder: Path) -> Path:
    plan = plan_extraction(items, spec=spec, res=res, batch_size=8)
    meta = provenance(
        spec, manifest, dataset="davis", res=res, grids=plan.grids, dim=None, precision=precision
    )
    patches = folder / f"patches_{precision}.parquet"
    stream_features(
        model,
        spec,
        plan,
        meta,
        device=device,
        precision=precision,
        patches_out=patches,
        cls_out=folder / f"cls_{precision}.parquet",
    )
    return patches


def probe_aps(patches: Path, folder: Path, precision: str) -> tuple[float, float]:
    """(mean CV AP at the best C, AP on the test frames' patches) of fmeval's probe."""
    summary = folder / f"cv_{precision}.json"
    result = run_cross_validation(
        features=str(patches),
        cs=CS,
        device="cpu",
        table=str(folder / f"cv_{precision}.parquet"),
        summary=str(summary),
        **PROBE,
    )
    probe_path = folder / f"probe_{precision}.npz"
    run_fit(
        features=str(patches), summary=str(summary), device="cpu", probe=str(probe_path), **PROBE
    )
    probe = load_probe(probe_path)
    features = read_features(patches)
    test = np.isin(
        features.image_index,
        [i for i, name in enumerate(features.images) if features.splits[name] == "test"],
    )
    truth = features.fg_fraction[test] > 0.5
    return result["best_mean_ap"], average_precision_score(
        truth, probe.predict_proba(features.features[test])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHS), default="vits14")
    parser.add_argument("--backend", choices=["torchhub", "timm"], default="torchhub")
    parser.add_argument("--res", type=int, default=448)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--hub", type=Path, default=OFFICIAL_HUB)
    args = parser.parse_args()
    device = pick_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        items = load_items(folder, args.data)
        spec, model = build_model(folder, args.backend, args.arch, args.hub)
        _, manifest = load_manifest(folder / f"{args.arch}.json")
        model = model.to(device)
        files, aps = {}, {}
        for precision in ("fp32", "bf16"):
            files[precision] = extract(
                model,
                spec,
                manifest,
                items,
                res=args.res,
                precision=precision,
                device=device,
                folder=folder,
            )
            aps[precision] = probe_aps(files[precision], folder, precision)
        a = read_features(files["fp32"]).features.astype(np.float64)
        b = read_features(files["bf16"]).features.astype(np.float64)
        rel = np.linalg.norm(a - b) / np.linalg.norm(a)
        cos = np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        print(
            f"{args.arch} ({spec.name}, {spec.backend}, RANDOM init) at {args.res}, device "
            f"{device}, torch {torch.__version__}, {len(items)} DAVIS frames"
        )
        for precision, (cv_ap, test_ap) in aps.items():
            print(f"{precision}: CV AP (best C) {cv_ap:.6f} | test-patch AP {test_ap:.6f}")
        print(
            f"bf16 - fp32: CV AP {aps['bf16'][0] - aps['fp32'][0]:+.6f} | test-patch AP "
            f"{aps['bf16'][1] - aps['fp32'][1]:+.6f}"
        )
        print(
            f"features: relative L2 difference {rel:.2e}; cosine per patch min {cos.min():.5f}, "
            f"median {np.median(cos):.5f}"
        )
        print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
