"""Rule script: the video report section (J&F tables, J over time, mask strips)."""

from fmeval.logs import run_logged
from fmeval.video.summary import run_report

run_logged(
    snakemake.log[0],
    run_report,
    metrics=list(snakemake.input.metrics),
    dataset_manifests=dict(zip(snakemake.params.datasets, snakemake.input.dataset_manifests)),
    strips=snakemake.params.strips,
    strip_frames=snakemake.params.strip_frames,
    scores=snakemake.output.scores,
    jf=snakemake.output.jf,
    j_over_time_png=dict(zip(snakemake.params.datasets, snakemake.output.j_over_time_png)),
    j_over_time_svg=dict(zip(snakemake.params.datasets, snakemake.output.j_over_time_svg)),
    strips_png=dict(zip(snakemake.params.datasets, snakemake.output.strips_png)),
    strips_svg=dict(zip(snakemake.params.datasets, snakemake.output.strips_svg)),
)
