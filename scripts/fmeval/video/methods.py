"""The video segmentation methods as records: one entry per method, read by everything else.

Each record says what the rules (``rules/video.smk``: GPU, the ``{method}`` wildcard), the
plan (:mod:`fmeval.video.plan`: the options), the dispatch
(:data:`fmeval.video.prediction.PREDICTORS`, same keys) and the README's table need to know.
A new method is one record here, its predictor in ``prediction.py``, its name in the
schema's ``video.methods`` enum and, if it has options, its ``video.<name>`` section (tests
check the schema's defaults equal the records'). No torch here.
"""

from dataclasses import dataclass

from fmeval.specs import MethodSpec, Option, markdown_table, registry


@dataclass(frozen=True)
class VideoMethod(MethodSpec):
    """A video method: a :class:`fmeval.specs.MethodSpec` with how its masks are described."""

    # True: it follows the propagation protocol (video.protocol), whose description (with the
    # overrides) travels with its masks; False: ``text`` does
    protocol: bool = False
    text: str = ""


METHODS: dict[str, VideoMethod] = registry(
    [
        VideoMethod(
            "propagate",
            "label propagation (DINO's protocol by default): k-NN over the patch features of "
            "the first frame and the last predicted frames",
            gpu=True,
            # null keeps the protocol's value (fmeval.video.protocol.OVERRIDABLE)
            options=(
                Option("n_last_frames", None, int),
                Option("size_mask_neighborhood", None, int),
                Option("topk", None, int),
                Option("temperature", None, float),
            ),
            section="video.propagate",
            protocol=True,
        ),
        VideoMethod(
            "classifier",
            "a per-patch logistic regression fitted on one annotated frame, applied to every "
            "frame (fmeval's own method)",
            gpu=True,
            options=(
                Option("train_frame", "first", str),
                Option("c", 1.0, float),
                Option("max_iter", 100, int),
            ),
            section="video.classifier",
            text="per-patch classifier (fmeval's own method, no published protocol)",
        ),
    ]
)


def methods_table() -> str:
    """The README's table of video methods (``python -m fmeval.video.methods``)."""
    return markdown_table(METHODS.values(), none="protocol's")


if __name__ == "__main__":
    print(methods_table())
