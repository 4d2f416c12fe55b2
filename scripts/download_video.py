"""Rule script: locate or fetch one DAVIS-layout video dataset and write its frame manifest."""

from fmeval.logs import run_logged
from fmeval.video.sequences import download_video

run_logged(
    snakemake.log[0],
    download_video,
    name=snakemake.wildcards.dataset,
    out_dir=snakemake.params.out_dir,
    source=snakemake.params.source,
    sha256=snakemake.params.sha256,
    resolution=snakemake.params.resolution,
    sequences=snakemake.params.sequences,
    image_set=snakemake.params.image_set,
    max_frames=snakemake.params.max_frames,
    **snakemake.config["downloads"],  # execution settings: changing them reruns nothing
)
