"""The official evaluation code in ../shared/reference, imported unchanged as test oracles.

Nothing is copied: each module is loaded from its file, its own helper modules (DINO's
``utils`` and ``vision_transformer``, the ``davis2017`` package) beside it, and the names
they put in ``sys.modules`` are taken out again so that they shadow nothing else.
"""

import importlib.util
import sys
from pathlib import Path

from conftest import REPO

REFERENCE = REPO.parent / "shared" / "reference"


def _load(folder: Path, module: str, file: Path, borrowed: tuple[str, ...]):
    saved = {name: sys.modules.pop(name) for name in borrowed if name in sys.modules}
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(module, file)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n in borrowed or n.startswith("davis2017.")]:
            if name.split(".")[0] in borrowed:
                del sys.modules[name]
        sys.modules.update(saved)


def dino_video():
    """DINO's ``eval_video_segmentation`` (facebookresearch/dino at 7c446df)."""
    folder = REFERENCE / "dino"
    return _load(
        folder,
        "dino_eval_video_segmentation",
        folder / "eval_video_segmentation.py",
        ("utils", "vision_transformer"),
    )


def davis2017():
    """davis2017-evaluation's ``davis2017.evaluation`` and ``davis2017.metrics`` (at ac7c43f)."""
    folder = REFERENCE / "davis2017-evaluation"
    evaluation = _load(
        folder, "davis2017_evaluation", folder / "davis2017" / "evaluation.py", ("davis2017",)
    )
    metrics = _load(
        folder, "davis2017_metrics", folder / "davis2017" / "metrics.py", ("davis2017",)
    )
    return evaluation, metrics
