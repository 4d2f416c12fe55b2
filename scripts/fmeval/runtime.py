"""Where and how a job runs: the device policy, the thread count and the model caches.

One policy for every stage: ``auto`` is CUDA when torch sees it, else the CPU; asking
for ``cuda`` on a machine without it is a clear error (checked in the job, since a
cluster's login node may have no GPU while its compute nodes do).
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import torch

from fmeval.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def pick_device(device: str) -> torch.device:
    """``auto`` is CUDA when present, else CPU; asking for absent CUDA is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device is `cuda` but torch sees no CUDA GPU; set `device: auto` or `cpu`"
        )
    if device not in DEVICES:
        raise ConfigError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The forward passes' numeric precision: ``fp32`` (none), or ``bf16`` autocast on any device.

    Unlike ``device``, it changes the numbers, so it is a rule parameter and is recorded.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision: unknown {precision!r}; use {' or '.join(PRECISIONS)}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=PRECISIONS[precision])


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable), else the machine's physical memory."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in torch (at least one)."""
    torch.set_num_threads(max(1, int(threads)))


@contextlib.contextmanager
def cache_env(cache_dir: Path) -> Iterator[None]:
    """Point torch.hub and the HF hub at ``cache_dir`` for the duration."""
    cache_dir = Path(cache_dir).resolve()
    old = {k: os.environ.get(k) for k in ("TORCH_HOME", "HF_HOME")}
    os.environ["TORCH_HOME"] = str(cache_dir / "torch")
    os.environ["HF_HOME"] = str(cache_dir / "huggingface")
    old_hub = torch.hub.get_dir()
    torch.hub.set_dir(str(cache_dir / "torch" / "hub"))
    try:
        yield
    finally:
        torch.hub.set_dir(old_hub)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
