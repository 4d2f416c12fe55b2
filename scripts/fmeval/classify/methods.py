"""The classification probes as records: one entry per method, read by everything else.

Each record names the rule that runs it (``rules/classify.smk``), whether that rule holds a
GPU, its options (the config's ``classify.<name>`` section; a value left out is the
protocol's, :data:`fmeval.classify.protocols.PROTOCOLS`) and a one-line description. The plan
(:mod:`fmeval.classify.plan`) fills each method's options from them and the README's table
is generated from them. A new probe is one record here, its preset values in every protocol,
its ``classify.<name>`` schema section and its rule (tests check the schema's keys, the
protocols' presets and the rule's resources against the records). No torch here.
"""

from dataclasses import dataclass

from fmeval.specs import MethodSpec, Option, markdown_table, registry


@dataclass(frozen=True)
class ClassifyMethod(MethodSpec):
    """A classification probe: a :class:`fmeval.specs.MethodSpec` with its rule's name."""

    rule: str = ""  # the rule that scores it, per (dataset, model, res)


def _floats(values) -> list[float]:
    return [float(v) for v in values]


def _ints(values) -> list[int]:
    return [int(v) for v in values]


METHODS: dict[str, ClassifyMethod] = registry(
    [
        ClassifyMethod(
            "knn",
            "weighted k-NN on L2-normalised embeddings: the k most cosine-similar training "
            "images vote for their class (top-1 and top-5 per k)",
            gpu=False,
            # None: the protocol's value (dinov2: k 10, 20, 100, 200; T 0.07)
            options=(Option("k", None, _ints), Option("temperature", None, float)),
            section="classify.knn",
            rule="score_knn",
        ),
        ClassifyMethod(
            "linear",
            "linear probe: multinomial logistic regression, C chosen on a validation split of "
            "the training images, refitted on all of them",
            gpu=False,
            options=(
                Option("cs", None, _floats),
                Option("val_fraction", None, float),
                Option("seed", None, int),
                Option("max_iter", None, int),
                Option("tol", None, float),
            ),
            section="classify.linear",
            rule="fit_linear_probe",
        ),
    ]
)


def method_options(method: str, section: dict, preset: dict) -> dict:
    """``method``'s options: the config's ``classify.<method>`` values, the protocol's
    ``preset`` where it gives none (or null)."""
    given = METHODS[method].options_from(section.get(method))
    return {k: preset[method][k] if v is None else v for k, v in given.items()}


def methods_table() -> str:
    """The README's table of classification probes (``python -m fmeval.classify.methods``)."""
    return markdown_table(METHODS.values(), {"rule": lambda s: f"`{s.rule}`"}, none="protocol's")


if __name__ == "__main__":
    print(methods_table())
