"""The official DINOv2 and DINOv3 hub code (../shared/hub) imports in fmeval's environment, and
every package it imports is pinned in requirements.txt (issue 22: DINOv3's hubconf.py
imports termcolor and torchmetrics, which nothing pinned)."""

import json
import re
import subprocess
import sys

import pytest
from conftest import OFFICIAL_DINOV2_HUB, OFFICIAL_DINOV3_HUB, REPO

# Imports the hub's hubconf.py, then lists the distributions of the packages that the hub's
# own loaded modules import (its direct dependencies, found in their source).
SCRIPT = """
import ast, importlib.metadata as md, json, sys
from pathlib import Path
root = Path(sys.argv[1]).resolve()
sys.path.insert(0, str(root))
import hubconf
files = {Path(m.__file__) for m in list(sys.modules.values())
         if isinstance(getattr(m, "__file__", None), str)}
tops = set()
for f in files:
    if f.is_absolute() and f.is_file() and f.resolve().is_relative_to(root):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                tops |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
names = md.packages_distributions()
print(json.dumps(sorted({d for t in tops for d in names.get(t, [])})))
"""


def pinned() -> set[str]:
    names = set()
    for line in (REPO / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==", line.strip())
        if match:
            names.add(match.group(1).lower().replace("_", "-"))
    return names


@pytest.mark.parametrize(
    "hub", [OFFICIAL_DINOV3_HUB, OFFICIAL_DINOV2_HUB], ids=["dinov3", "dinov2"]
)
def test_the_official_hub_code_imports_and_its_packages_are_pinned(hub):
    if not (hub / "hubconf.py").is_file():
        pytest.skip(f"{hub} is absent")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(hub)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]  # e.g. ModuleNotFoundError: termcolor
    imported = {d.lower().replace("_", "-") for d in json.loads(proc.stdout.splitlines()[-1])}
    assert "torch" in imported
    missing = sorted(imported - pinned())
    assert not missing, f"{hub.name}'s hub code imports packages not in requirements.txt: {missing}"
