"""Write tests/fixtures/operator_norms.json: deepinv's seeded operator norms used by the tests.

The norm of ``Tomography(img_width=128, angles=views, normalize=True)`` is deepinv's power
iteration from the seeded global RNG (fmeval.ct.tomography.measure_operator_norm): deterministic,
but ~10 s at 1000 views on 2 cores. The tests read these values instead of re-measuring them, and
one test re-measures the small view counts to check the file is still right.

    .venv/bin/python perf/operator_norms.py
"""

import json
import time
from pathlib import Path

import deepinv

from fmeval.ct.tomography import measure_operator_norm

VIEWS = (1000, 100, 20, 10)
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "operator_norms.json"

if __name__ == "__main__":
    norms = {}
    for views in VIEWS:
        start = time.perf_counter()
        norms[str(views)] = measure_operator_norm(views, seed=0)
        print(f"{views:5d} views: {norms[str(views)]:.9g} ({time.perf_counter() - start:.1f} s)")
    record = {"seed": 0, "img_width": 128, "deepinv": deepinv.__version__, "norms": norms}
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}")
