"""The official DINOv2 evaluation code (../shared/hub/dinov2/dinov2/eval), run UNCHANGED as a
test oracle on CPU. Nothing of it is copied here; only its environment is provided:

- a one-process ``gloo`` process group (its k-NN and log-regression code broadcast and gather
  through ``torch.distributed``);
- ``torch.cuda.current_device`` and ``Tensor.cuda`` answer the CPU (the ``.cuda()`` stubs the
  issue allows), inside :func:`on_cpu` only;
- ``cuml.linear_model.LogisticRegression`` is scikit-learn's with cuML's two extra arguments
  (``output_type``, ``linesearch_max_iter``) dropped: DINOv2's CPU path runs scikit-learn's
  estimator with the same arguments.
"""

import contextlib
import sys
import tempfile
import types
from pathlib import Path

import torch

DINOV2 = Path(__file__).resolve().parents[1].parent / "shared" / "hub" / "dinov2"


def _cuml_shim() -> None:
    """``cuml.linear_model.LogisticRegression``: scikit-learn's, cuML's own arguments dropped."""
    if "cuml.linear_model" in sys.modules:
        return
    from sklearn.linear_model import LogisticRegression

    def make(*, output_type=None, linesearch_max_iter=None, penalty="l2", **kwargs):
        assert penalty == "l2"  # scikit-learn's default (its `penalty` argument is deprecated)
        return LogisticRegression(**kwargs)

    linear_model = types.ModuleType("cuml.linear_model")
    linear_model.LogisticRegression = make
    cuml = types.ModuleType("cuml")
    cuml.linear_model = linear_model
    sys.modules["cuml"], sys.modules["cuml.linear_model"] = cuml, linear_model


def import_dinov2(module: str):
    """``dinov2.<module>`` from the official code (its package on sys.path while imported)."""
    import importlib

    _cuml_shim()
    sys.path.insert(0, str(DINOV2))
    try:
        return importlib.import_module(f"dinov2.{module}")
    finally:
        sys.path.remove(str(DINOV2))


def process_group() -> None:
    """A one-process gloo group (once per test process)."""
    if torch.distributed.is_initialized():
        return
    path = Path(tempfile.mkdtemp()) / "store"
    torch.distributed.init_process_group("gloo", init_method=f"file://{path}", rank=0, world_size=1)


@contextlib.contextmanager
def on_cpu():
    """``torch.cuda.current_device()`` is the CPU and ``Tensor.cuda`` a no-op, meanwhile."""
    saved = torch.cuda.current_device, torch.Tensor.cuda
    torch.cuda.current_device = lambda: torch.device("cpu")
    torch.Tensor.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.cuda.current_device, torch.Tensor.cuda = saved
