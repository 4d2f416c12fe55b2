"""Dry-run time of the workflow with many test images (issue 13).

Writes a config like config/test.yaml with N test images (names only matter at plan time),
2 models and 2 resolutions, and times ``snakemake -n`` in a scratch folder; prints the job
count and seconds. The test-image rules (segment, PCA) run one job per (dataset, model,
resolution) for all its test images, so the job count does not grow with N.

    .venv/bin/python perf/dry_run.py --images 1000
"""

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def config(n_images: int, folder: Path) -> dict:
    """The test config with ``n_images`` test images: empty files in ``folder`` (the plan
    only checks that local sources exist)."""
    cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    for i in range(n_images):
        (folder / f"t{i:04d}.jpg").touch()
    davis = cfg["datasets"]["davis"]
    davis["test_images"] = [
        {"name": f"t{i:04d}", "image": str(folder / f"t{i:04d}.jpg")} for i in range(n_images)
    ]
    model = cfg["models"]["dinov2_vits14"]
    cfg["models"] = {"vits_a": copy.deepcopy(model), "vits_b": copy.deepcopy(model)}
    cfg["models"]["vits_a"]["name"] = cfg["models"]["vits_b"]["name"] = "dinov2_vits14"
    cfg["models"]["vits_a"]["repo"] = cfg["models"]["vits_b"]["repo"] = str(
        REPO / "tests/fixtures/dinov2_hub"
    )
    cfg["resolutions"] = [224, 448]
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, nargs="+", default=[10, 1000])
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    for n in args.images:
        with tempfile.TemporaryDirectory() as tmp:
            cfg_path = Path(tmp) / "config.yaml"
            cfg_path.write_text(yaml.safe_dump(config(n, Path(tmp))))
            cmd = [
                sys.executable,
                "-m",
                "snakemake",
                "-n",
                "--quiet",
                "rules",
                "--snakefile",
                str(REPO / "Snakefile"),
                "--configfile",
                str(cfg_path),
                "--directory",
                tmp,
                "--cores",
                "2",
            ]
            start = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            wall = time.perf_counter() - start
            jobs = [
                ln for ln in out.stdout.splitlines() if ln.strip().startswith(("segment", "render"))
            ]
            tail = (out.stdout + out.stderr).strip().splitlines()[-12:]
            print(
                f"{n:5d} test images: dry run {wall:6.1f} s (rc {out.returncode}); per-image "
                f"rule lines: {jobs}"
            )
            if out.returncode:
                print("\n".join(tail))
            else:
                print("\n".join(tail))


if __name__ == "__main__":
    main()
