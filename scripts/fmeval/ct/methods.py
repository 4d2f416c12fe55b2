"""The CT reconstruction methods as records: one entry per method, read by everything else.

Each :class:`CTMethod` says what the rules (``rules/common.smk``: GPU, precision, options,
weights, the tuning search), the plan (:mod:`fmeval.ct.sweep`), the implementation's
dispatch (:data:`fmeval.ct.reconstruction.BUILDERS`, same keys), the tuning
(:mod:`fmeval.ct.tuning`), the paired comparisons and the README's table need to know. A
new method is one record here, its builder in ``reconstruction.py``, its name in the
schema's ``ct.methods`` enum and, if it has options, its ``ct.<name>`` section (tests check
the schema's defaults equal the records'). No torch here.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from fmeval.specs import TUNE, MethodSpec, Option, markdown_table, registry

RAM_URL = "https://huggingface.co/mterris/ram/resolve/main/ram.pth.tar"
SEARCH_ALWAYS = ("n_validation",)  # the ct.tune keys every tuning search reads


@dataclass(frozen=True)
class CTMethod(MethodSpec):
    """A CT method: a :class:`fmeval.specs.MethodSpec` with the CT facts."""

    precision: bool = False  # the config's `precision` applies (a network); else always fp32
    needs_weights: bool = False  # a network whose weights rule fetch_ram_weights fetches
    weights_urls: tuple[str, ...] = ()  # where `pretrained` weights come from
    baseline: bool = False  # every other method is compared with the best baseline per cell
    setting: str = ""  # the scores' `setting` column: a format string over the options

    def describe(self, options: Mapping) -> str:
        """The options that change the images, as one short string (e.g. ``lam=0.0123``)."""
        return self.setting.format(**{**self.defaults, **options}) if self.setting else ""


METHODS: dict[str, CTMethod] = registry(
    [
        CTMethod(
            "fbp",
            "filtered back-projection: deepinv's ramp filter times one of dival's windows, cut "
            "off at a fraction of the Nyquist frequency (dival's FBPReconstructor)",
            gpu=False,
            options=(
                Option("window", TUNE, str, tunable=True, search=("windows",)),
                Option(
                    "frequency_scaling", TUNE, float, tunable=True, search=("frequency_scalings",)
                ),
            ),
            section="ct.fbp",
            baseline=True,
            setting="{window}, cut-off {frequency_scaling:g}",
        ),
        CTMethod(
            "ram",
            "deepinv's Reconstruct Anything Model, a pretrained network conditioned on the "
            "noise level",
            gpu=True,
            section="ct.ram",
            precision=True,
            needs_weights=True,
            weights_urls=(RAM_URL,),
        ),
        CTMethod(
            "tv",
            "TV-regularised least squares by deepinv's proximal gradient descent from the FBP, "
            "to a relative-change tolerance",
            gpu=True,
            options=(
                Option(
                    "lam", TUNE, float, tunable=True, search=("lam_range", "lam_grid", "lam_refine")
                ),
                Option("n_iter", 100, int),
                Option("prox_iter", 20, int),
                Option("tol", 0.001, float),
            ),
            section="ct.tv",
            baseline=True,
            setting="lam={lam:.3g}",
        ),
    ]
)
BASELINES = tuple(name for name, m in METHODS.items() if m.baseline)
TUNABLE = tuple(name for name, m in METHODS.items() if m.tunable)  # tune_baseline's {method}


def method_options(method: str, ct: Mapping) -> dict:
    """``method``'s options from the config's ``ct`` section (defaults where it gives none)."""
    spec = METHODS[method]
    return spec.options_from(ct.get(spec.section.removeprefix("ct.")))


def tune_search(method: str, options: Mapping, tune: Mapping) -> dict:
    """The ``ct.tune`` keys ``method``'s search reads with these ``options``: only those, so
    that changing another method's search retunes nothing of this one."""
    keys = list(SEARCH_ALWAYS)
    for option in METHODS[method].options:
        if option.tunable and options.get(option.name) == TUNE:
            keys += option.search
    return {key: tune[key] for key in keys}


def _weights(spec: CTMethod) -> str:
    return ", ".join(spec.weights_urls) if spec.weights_urls else "–"


def methods_table() -> str:
    """The README's table of CT methods (``python -m fmeval.ct.methods``)."""
    extra = {
        "precision": lambda s: "`precision`" if s.precision else "fp32",
        "weights": _weights,
    }
    return markdown_table(METHODS.values(), extra)


if __name__ == "__main__":
    print(methods_table())
