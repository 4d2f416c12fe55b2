"""Benchmark: leave-one-image-out probe CV, the tutorial's loop against fmeval's solver.

Both run on the same cached features (DAVIS frames, ViT-S/14 random init via the test hub
fixture, res 448 by default) and the same model: StandardScaler + L2 LogisticRegression
per fold and C. The tutorial's loop refits scikit-learn (lbfgs, max_iter 10000) from
scratch for every fold and C; fmeval.seg.cv.cross_validate solves all folds at once with
warm starts along the C path (see fmeval.learn.logistic). Prints the wall time of each, the
ratio, and the largest per-fold AP difference.

It also fits every fold and C of the same model to convergence with scikit-learn
(newton-cholesky in float64, tol 1e-8; ``--converged N`` for only the N worst folds, 0 for
none) and prints each solver's largest AP difference from that converged answer. The
tutorial's lbfgs stops at its default tol 1e-4 on float32 features, short of the optimum:
its own AP moves by up to ~0.01 per fold when only the tolerance or the float width
changes, so the "same AP (+-0.002 per fold)" check is made against the converged fit.

    .venv/bin/python perf/probe_cv.py                  # reuse or build the features
    .venv/bin/python perf/probe_cv.py --features F.parquet --device cuda

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

from reference_probe import cross_validate_reference

from fmeval.seg.cv import cross_validate
from fmeval.seg.probe import load_probe_data


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


def converged_aps(data, cs, folds) -> dict[tuple[int, float], float]:
    """AP of each (fold, C) from scikit-learn's same pipeline, solved to convergence in float64."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    for f in folds:
        test = data.image == f
        for c in cs:
            clf = make_pipeline(
                StandardScaler(),
                LogisticRegression(C=c, solver="newton-cholesky", tol=1e-8, max_iter=100),
            ).fit(data.x[~test].astype(np.float64), data.y[~test])
            out[f, c] = average_precision_score(
                data.y[test], clf.predict_proba(data.x[test].astype(np.float64))[:, 1]
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", help="a patch-feature Parquet file")
    parser.add_argument("--res", type=int, default=448)
    parser.add_argument("--cs", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--max-iter", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, or auto/cuda for the GPU solver")
    parser.add_argument(
        "--converged",
        type=int,
        default=-1,
        help="worst folds to also fit to convergence (-1: all, 0: none)",
    )
    parser.add_argument("--skip-reference", action="store_true", help="time fmeval's solver only")
    args = parser.parse_args()

    keep: list = []
    path = find_features(args.res, args.features, keep)
    torch.set_num_threads(args.threads)
    data = load_probe_data(path, fg_threshold=0.99, bg_threshold=0.01)
    print(
        f"features {path}: {len(data.y)} patches ({int(data.y.sum())} fg) of {len(data.images)} "
        "images, "
        f"dim {data.x.shape[1]}, random_init={data.meta.get('random_init')}; C grid {args.cs}; "
        f"{args.threads} thread(s); torch {torch.__version__}, cuda available "
        f"{torch.cuda.is_available()}"
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
    merged = merged[~merged["skipped_ours"]]  # one-class folds have no AP
    diff = (merged["ap_ref"] - merged["ap_ours"]).abs()
    worst = merged.loc[diff.idxmax()]
    print(f"speed-up: {t_ref / t_ours:.1f}x")
    print(
        f"largest per-fold AP difference: {diff.max():.5f} (image {worst['image']}, "
        f"C={worst['C']:g}); "
        f"mean {diff.mean():.5f}; folds within 0.002: {(diff <= 0.002).sum()}/{len(diff)}"
    )
    print(
        "mean AP per C (tutorial / fmeval): "
        + ", ".join(
            f"C={c:g}: {merged.loc[merged.C == c, 'ap_ref'].mean():.4f} / "
            f"{merged.loc[merged.C == c, 'ap_ours'].mean():.4f}"
            for c in args.cs
        )
    )
    if args.converged:
        order = diff.groupby(merged["image"]).max().sort_values(ascending=False).index
        names = list(order if args.converged < 0 else order[: args.converged])
        t0 = time.perf_counter()
        with threadpool_limits(args.threads):
            exact = converged_aps(data, args.cs, [data.images.index(name) for name in names])
        rows = merged[merged["image"].isin(names)].copy()
        rows["ap_exact"] = [exact[data.images.index(r.image), r.C] for r in rows.itertuples()]
        ours_gap = (rows["ap_ours"] - rows["ap_exact"]).abs()
        ref_gap = (rows["ap_ref"] - rows["ap_exact"]).abs()
        print(
            f"converged scikit-learn fit (newton-cholesky, float64, tol 1e-8) of {len(rows)} "
            "fold(s) x C "
            f"in {time.perf_counter() - t0:.0f} s:"
        )
        print(
            f"  fmeval vs converged: largest AP difference {ours_gap.max():.2e}; "
            f"folds within 0.002: {(ours_gap <= 0.002).sum()}/{len(rows)}"
        )
        print(
            f"  tutorial vs converged: largest AP difference {ref_gap.max():.5f}; "
            f"folds within 0.002: {(ref_gap <= 0.002).sum()}/{len(rows)}"
        )
        for r, o, t in sorted(zip(rows.itertuples(), ours_gap, ref_gap), key=lambda z: -z[2])[:5]:
            print(
                f"  {r.image} C={r.C:g}: converged {r.ap_exact:.5f}, fmeval {r.ap_ours:.5f} (diff "
                f"{o:.1e}), "
                f"tutorial {r.ap_ref:.5f} (diff {t:.1e})"
            )


if __name__ == "__main__":
    main()
