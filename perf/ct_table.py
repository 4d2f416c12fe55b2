"""FBP / TV (or RAM) PSNR and SSIM on the seeded phantoms for a views x noise grid, printed.

The same fmeval functions as the CT rules (phantoms, the sparse operator and its norm, seeded
noise, batched reconstruction, skimage scores, Student-t 95% CI), without snakemake, one cell
per line as it finishes (its seconds last). The noise levels are the config defaults.

    .venv/bin/python perf/ct_table.py --views 1000 500 --methods fbp tv
    .venv/bin/python perf/ct_table.py --views 1000 --methods tv --noise high
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from fmeval.ct.metrics import mean_ci, score_images
from fmeval.ct.operator import measure_norm
from fmeval.ct.phantoms import generate_phantoms
from fmeval.ct.radon import radon_matrix
from fmeval.ct.reconstruction import make_solver, reconstruct
from fmeval.ct.sweep import NoiseLevel
from fmeval.ct.tomography import build_operator, simulate_sinograms

LEVELS = [
    NoiseLevel("clean", 0, 0),
    NoiseLevel("low", 0.001, 0.001),
    NoiseLevel("high", 0.01, 0.01),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, nargs="+", default=[1000, 500, 200, 100, 50, 20, 10])
    parser.add_argument("--methods", nargs="+", default=["fbp", "tv"], choices=["fbp", "tv"])
    parser.add_argument("--noise", nargs="+", default=[level.name for level in LEVELS])
    parser.add_argument("--phantoms", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lam", type=float, default=0.01)
    parser.add_argument("--n-iter", type=int, default=100)
    parser.add_argument("--prox-iter", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gt = generate_phantoms(args.phantoms)
    levels = [level for level in LEVELS if level.name in args.noise]
    options = {"tv": {"lam": args.lam, "n_iter": args.n_iter, "prox_iter": args.prox_iter}}
    print("method views noise n psnr_mean psnr_ci ssim_mean ssim_ci seconds", flush=True)
    for views in args.views:
        matrix = radon_matrix(views)
        physics = build_operator(views, operator_norm=measure_norm(matrix), matrix=matrix)
        for level in levels:
            sino = simulate_sinograms(
                gt, physics, level=level, views=views, seed=args.seed, batch_size=args.batch_size
            )
            for method in args.methods:
                start = time.perf_counter()
                solver = make_solver(method, options=options.get(method, {}))
                scores = score_images(
                    gt, reconstruct(sino, physics, solver, batch_size=args.batch_size)
                )
                p, _, p_lo, p_hi = mean_ci(scores["psnr"])
                s, _, s_lo, s_hi = mean_ci(scores["ssim"])
                print(
                    f"{method} {views} {level.name} {len(gt)} {p:.2f} ±{(p_hi - p_lo) / 2:.2f} "
                    f"{s:.3f} ±{(s_hi - s_lo) / 2:.3f} {time.perf_counter() - start:.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
