"""CT speed: seconds per phantom for each method, the pipeline's way vs the tutorial's way.

- pipeline: the operator norm is measured once per view count (rule measure_operator,
  shared by every noise level and method) and each job builds the operator without the
  power iteration, once, then reconstructs the phantoms in batches under inference_mode.
- tutorial: a fresh ``Tomography(normalize=True)`` per cell (so a power iteration per
  cell, and deepinv's default single grid_sample over all angles) and one phantom at a
  time; the tutorial has no TV, so its TV is deepinv's stock ``PGD(L2(), TVPrior())``.

It also counts the calls to A and A^T per phantom and the time spent in them, to say
where the time goes. RAM runs with random weights (same cost as the pretrained ones).

    .venv/bin/python perf/ct.py                       # 1000 and 50 views, 4 phantoms
    .venv/bin/python perf/ct.py --views 50 --phantoms 8 --methods fbp tv
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from fmeval.ct.phantoms import generate_phantoms
from fmeval.ct.reconstruction import build_tv, make_solver, reconstruct
from fmeval.ct.sweep import NoiseLevel
from fmeval.ct.tomography import (
    build_operator,
    measure_operator_norm,
    noise_model,
    simulate_sinograms,
)

LOW = NoiseLevel("low", 0.001, 0.001)  # the tutorial's noise
TV = {"lam": 0.01, "n_iter": 100, "prox_iter": 20}


class Counter:
    """Wrap ``physics.A`` and ``physics.A_adjoint`` to count calls and time them."""

    def __init__(self, physics):
        self.calls = {"A": 0, "A_adjoint": 0}
        self.seconds = {"A": 0.0, "A_adjoint": 0.0}
        for name in self.calls:
            setattr(physics, name, self._wrap(name, getattr(physics, name)))

    def _wrap(self, name, fn):
        def wrapped(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1
            return out

        return wrapped


def make_model(method: str):
    if method != "ram":
        return None
    import deepinv as dinv

    torch.manual_seed(0)
    return dinv.models.RAM(pretrained=False).eval()


def pipeline(method, views, sino, norm, model, batch_size):
    start = time.perf_counter()
    physics = build_operator(views, operator_norm=norm, noise_model=noise_model(LOW))
    build = time.perf_counter() - start
    counter = Counter(physics)
    solver = make_solver(method, options=TV if method == "tv" else {}, model=model)
    start = time.perf_counter()
    reconstruct(sino, physics, solver, batch_size=batch_size)
    solve = time.perf_counter() - start
    return build, solve, counter


def stock_tv(y, physics):
    return build_tv(**TV, stock=True)(y, physics)


def tutorial(method, views, sino, model):
    import deepinv as dinv

    start = time.perf_counter()
    physics = dinv.physics.Tomography(
        img_width=128, angles=views, normalize=True, noise_model=noise_model(LOW)
    )
    build = time.perf_counter() - start
    solver = stock_tv if method == "tv" else make_solver(method, model=model)
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(len(sino)):
            solver(torch.from_numpy(sino[i : i + 1]), physics)
    solve = time.perf_counter() - start
    return build, solve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, nargs="+", default=[1000, 50])
    parser.add_argument("--phantoms", type=int, default=4)
    parser.add_argument("--methods", nargs="+", default=["fbp", "tv", "ram"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gt = generate_phantoms(args.phantoms)
    n = len(gt)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n} phantoms, noise {LOW}"
    )
    rows = []
    for views in args.views:
        start = time.perf_counter()
        norm = measure_operator_norm(views, seed=0)
        norm_s = time.perf_counter() - start
        physics = build_operator(views, operator_norm=norm)
        sino = simulate_sinograms(
            gt, physics, level=LOW, views=views, seed=0, batch_size=args.batch_size
        )
        print(
            f"\n{views} views: operator norm (power iteration, once per view count) {norm_s:.1f} s"
        )
        for method in args.methods:
            model = make_model(method)
            build, solve, counter = pipeline(method, views, sino, norm, model, args.batch_size)
            t_build, t_solve = tutorial(method, views, sino, model)
            ours, theirs = (build + solve) / n, (t_build + t_solve) / n
            in_ops = sum(counter.seconds.values())
            rows.append((views, method, ours, theirs))
            print(
                f"  {method:3s}: pipeline {ours:7.3f} s/phantom (build {build:5.2f} s + solve "
                f"{solve / n:7.3f} s/phantom) | "
                f"tutorial {theirs:7.3f} s/phantom (build {t_build:5.2f} s + solve "
                f"{t_solve / n:7.3f} s/phantom) | "
                f"ratio {theirs / ours:5.2f}x | per phantom: {counter.calls['A'] / n:.1f} A + "
                f"{counter.calls['A_adjoint'] / n:.1f} A^T calls, {in_ops / solve:.0%} of the "
                "solve in them"
            )
    print("\nviews method  pipeline_s/phantom  tutorial_s/phantom  speed-up")
    for views, method, ours, theirs in rows:
        print(f"{views:5d} {method:6s} {ours:19.3f} {theirs:19.3f} {theirs / ours:8.2f}x")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
