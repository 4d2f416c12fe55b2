"""The branch registry: one record per evaluation branch (issue 24). Torch-free data.

A branch is one task the pipeline evaluates (segmentation, CT reconstruction, ...). Its
record says what the rest of the workflow needs to know about it:

- ``name``: its name in the config's ``branches`` list, its report section's id (the
  ``<name>_tables`` / ``<name>_figures`` inputs of ``build_report``) and its package's
  report module ``fmeval.report.sections.<name>``;
- ``title``: its report section's heading;
- ``rules``: its rule files under ``rules/`` (the Snakefile includes them; the cost table
  lists their rules when the branch is on);
- ``datasets``: the config key of its datasets (``None``: it has none), which is its
  dataset namespace: every branch's datasets share ``resources/datasets/<name>/``, so a
  name may belong to one branch only (:func:`check_dataset_names`).

The snakemake side (its final targets and report inputs) is registered by the branch's own
rules file with one ``register_branch(...)`` call (rules/common.smk). A new branch is one
line in :data:`BRANCHES`, its rules file, its package, its schema section and its report
section.

Which branches run: ``branches`` in the config lists them. Its default, ``null``, runs every
branch, except that an ``auto`` branch (video, classification) runs only when the config
names one of its datasets, as before the switch existed. A branch that runs needs datasets
when it has a namespace: a listed one without is a one-line error (:func:`check_branches`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fmeval.errors import ConfigError


@dataclass(frozen=True)
class Branch:
    name: str
    title: str
    rules: tuple[str, ...]
    datasets: str | None = None  # dotted config key, e.g. "video.datasets"
    auto: bool = False  # unlisted by `branches: null`, it runs only when it has datasets
    package: str = ""  # its package under fmeval (default: its name), with entries.ENTRIES

    @property
    def module(self) -> str:
        """Its package, ``fmeval.<package>``; ``<module>.entries.ENTRIES`` maps its rules to
        their functions (fmeval.entry)."""
        return f"fmeval.{self.package or self.name}"


BRANCHES = (
    Branch("segmentation", "Segmentation", ("probe.smk", "segment.smk"), "datasets", package="seg"),
    Branch("ct", "CT reconstruction", ("ct.smk",)),
    Branch("video", "Video segmentation", ("video.smk",), "video.datasets", auto=True),
    Branch("classify", "Image classification", ("classify.smk",), "classify.datasets", auto=True),
)
NAMES = tuple(b.name for b in BRANCHES)


def get_branch(name: str) -> Branch:
    for branch in BRANCHES:
        if branch.name == name:
            return branch
    raise KeyError(f"no branch {name!r} in fmeval.branches.BRANCHES ({', '.join(NAMES)})")


def _lookup(config: Mapping, dotted: str) -> Mapping:
    value = config
    for key in dotted.split("."):
        value = (value or {}).get(key) if isinstance(value, Mapping) else None
    return value or {}


def datasets_of(config: Mapping, branch: Branch) -> list[str]:
    """The names of ``branch``'s datasets in ``config`` (none without a namespace)."""
    return list(_lookup(config, branch.datasets)) if branch.datasets else []


def listed(config: Mapping) -> list[str]:
    """The branches the config lists, in registry order (``branches: null``: every branch).

    An unknown or repeated name is one :class:`ConfigError` line with the fix.
    """
    names = config.get("branches")
    if names is None:
        return list(NAMES)
    names = [names] if isinstance(names, str) else names
    from fmeval.errors import suggest  # the schema checks' wording

    seen = set()
    for i, name in enumerate(names):
        if name not in NAMES:
            raise ConfigError(f"branches[{i}]: {name!r} is not a branch{suggest(name, NAMES)}")
        if name in seen:
            raise ConfigError(f"branches[{i}]: {name!r} is listed twice; list it once")
        seen.add(name)
    return [n for n in NAMES if n in seen]


def off_reasons(config: Mapping) -> dict[str, str]:
    """{branch: why it does not run} for every branch that does not (one sentence each)."""
    on, default = listed(config), config.get("branches") is None
    reasons = {}
    for branch in BRANCHES:
        if branch.name not in on:
            reasons[branch.name] = (
                f"{branch.title} is off in this run: `branches` does not list {branch.name}"
            )
        elif default and branch.auto and not datasets_of(config, branch):
            reasons[branch.name] = f"{branch.title} is off in this run: {branch.datasets} is empty"
    return reasons


def check_branches(config: Mapping) -> None:
    """The branch names are known and each branch that runs has its datasets."""
    on = enabled(config)
    for branch in BRANCHES:
        if branch.name in on and branch.datasets and not datasets_of(config, branch):
            others = [n for n in on if n != branch.name]
            example = f" (e.g. `branches: [{', '.join(others)}]`)" if others else ""
            raise ConfigError(
                f"{branch.datasets}: {branch.name} runs but has no dataset; add one, or leave "
                f"{branch.name} out of `branches`{example}"
            )
    check_dataset_names(config)


def enabled(config: Mapping) -> list[str]:
    """The branches this config runs, in registry order."""
    off = off_reasons(config)
    return [n for n in NAMES if n not in off]


def check_dataset_names(config: Mapping, branches: Sequence[Branch] = BRANCHES) -> None:
    """One dataset name, one branch: all share ``resources/datasets/<name>/`` (and the
    {dataset} wildcard), so a name used twice is one config line, not a Snakemake error."""
    owner: dict[str, Branch] = {}
    for branch in branches:
        for name in datasets_of(config, branch):
            first = owner.setdefault(name, branch)
            if first is not branch:
                raise ConfigError(
                    f"{branch.datasets}.{name}: the name {name!r} is also a {first.name} "
                    f"dataset ({first.datasets}.{name}); every branch's datasets live in "
                    f"resources/datasets/<name>/, so rename one"
                )
