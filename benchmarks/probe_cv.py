"""Benchmark: leave-one-image-out probe CV, the tutorial's loop against fmeval's solver.

Both run on the same cached features (DAVIS frames, ViT-S/14 random init via the test hub
fixture, res 448 by default) and the same model: StandardScaler + L2 LogisticRegression
per fold and C. The tutorial's loop refits scikit-learn (lbfgs, max_iter 10000) from
scratch for every fold and C; fmeval.probe.cross_validate solves all folds at once with
warm starts along the C path (see fmeval.logistic). Prints the wall time of each, the
ratio, and the largest per-fold AP difference. ``--exact N`` also fits N folds with a
tightly converged scikit-learn solver (newton-cholesky in float64, tol 1e-8), to show which
of the two is nearer the exact optimum.

    .venv/bin/python benchmarks/probe_cv.py                  # reuse or build the features
    .venv/bin/python benchmarks/probe_cv.py --features F.parquet --device cuda

Features: ``--features``, else results/features/davis/dinov2_vits14/<res>.parquet in the
repository when present, else built by the pipeline in a temporary folder from
config/test.yaml (needs ../shared/data/davis2016-fg).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))

from fmeval.probe import cross_validate, cross_validate_reference, select_patches  # noqa: E402
from fmeval.store import read_features  # noqa: E402


def find_features(res: int, given: str | None, keep: list) -> Path:
    if given:
        return Path(given)
    cached = REPO / "results" / "features" / "davis" / "dinov2_vits14" / f"{res}.parquet"
    if cached.exists():
        return cached
    from conftest import load_test_config, run_snakemake

    tmp = tempfile.TemporaryDirectory(prefix="fmeval-bench-")
    keep.append(tmp)
    config = load_test_config()
    config["resolutions"] = [res]
    target = f"results/features/davis/dinov2_vits14/{res}.parquet"
    print(f"building {target} with the pipeline in {tmp.name} ...", flush=True)
    run_snakemake(Path(tmp.name), config, target)
    return Path(tmp.name) / target


def exact_aps(data, cs, folds) -> dict[tuple[int, float], float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    for f in folds:
        test = data.image == f
        for c in cs:
            clf = make_pipeline(
                StandardScaler(), LogisticRegression(C=c, solver="newton-cholesky", tol=1e-8, max_iter=100)
            ).fit(data.x[~test].astype(np.float64), data.y[~test])
            out[f, c] = average_precision_score(data.y[test], clf.predict_proba(data.x[test])[:, 1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", help="a patch-feature Parquet file")
    parser.add_argument("--res", type=int, default=448)
    parser.add_argument("--cs", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--max-iter", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, or auto/cuda for the GPU solver")
    parser.add_argument("--exact", type=int, default=0, help="folds to also fit tightly with sklearn")
    parser.add_argument("--skip-reference", action="store_true", help="time fmeval's solver only")
    args = parser.parse_args()

    keep: list = []
    path = find_features(args.res, args.features, keep)
    torch.set_num_threads(args.threads)
    data = select_patches(read_features(path), fg_threshold=0.99, bg_threshold=0.01)
    print(
        f"features {path}: {len(data.y)} patches ({int(data.y.sum())} fg) of {len(data.images)} images, "
        f"dim {data.x.shape[1]}, random_init={data.meta.get('random_init')}; C grid {args.cs}; "
        f"{args.threads} thread(s); torch {torch.__version__}, cuda available {torch.cuda.is_available()}"
    )

    t0 = time.perf_counter()
    ours = cross_validate(data, args.cs, max_iter=args.max_iter, device=args.device)
    t_ours = time.perf_counter() - t0
    print(f"fmeval solver ({args.device}): {t_ours:.2f} s", flush=True)
    if args.skip_reference:
        return

    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):
        t0 = time.perf_counter()
        ref = cross_validate_reference(data, args.cs, max_iter=args.max_iter)
        t_ref = time.perf_counter() - t0
    print(f"tutorial loop (sklearn, fresh fit per fold and C): {t_ref:.2f} s", flush=True)

    merged = ref.merge(ours, on=["image", "C"], suffixes=("_ref", "_ours"))
    diff = (merged["ap_ref"] - merged["ap_ours"]).abs()
    worst = merged.loc[diff.idxmax()]
    print(f"speed-up: {t_ref / t_ours:.1f}x")
    print(
        f"largest per-fold AP difference: {diff.max():.5f} (image {worst['image']}, C={worst['C']:g}); "
        f"mean {diff.mean():.5f}; folds within 0.002: {(diff <= 0.002).sum()}/{len(diff)}"
    )
    print(
        "mean AP per C (tutorial / fmeval): "
        + ", ".join(
            f"C={c:g}: {merged.loc[merged.C == c, 'ap_ref'].mean():.4f} / {merged.loc[merged.C == c, 'ap_ours'].mean():.4f}"
            for c in args.cs
        )
    )
    if args.exact:
        folds = list(diff.groupby(merged["image"]).max().sort_values(ascending=False).index[: args.exact])
        idx = [data.images.index(name) for name in folds]
        exact = exact_aps(data, args.cs, idx)
        for f, name in zip(idx, folds):
            for c in args.cs:
                row = merged[(merged.image == name) & (merged.C == c)].iloc[0]
                print(
                    f"  {name} C={c:g}: exact {exact[f, c]:.5f}, fmeval {row.ap_ours:.5f} "
                    f"(diff {abs(exact[f, c] - row.ap_ours):.1e}), tutorial {row.ap_ref:.5f} "
                    f"(diff {abs(exact[f, c] - row.ap_ref):.1e})"
                )


if __name__ == "__main__":
    main()
