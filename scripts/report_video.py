"""Rule script: the video report section (J&F tables, J over time, mask strips)."""

from fmeval.logs import run_logged
from fmeval.video.summary import run_report

run_logged(
    snakemake.log[0],
    run_report,
    metrics=list(snakemake.input.metrics),
    strip_masks=snakemake.params.strip_masks,
    manifests=snakemake.params.manifests,
    strip_frames=snakemake.params.strip_frames,
    out_dir=snakemake.params.out_dir,
)
