"""Rule script: CLS and streamed mean patch tokens of one cell, joined with the class labels."""

from fmeval.classify.embeddings import gather_embeddings
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    gather_embeddings,
    dataset_manifest=snakemake.input.dataset_manifest,
    cls=snakemake.input.cls,
    patches=snakemake.input.patches,
    embeddings=snakemake.output.embeddings,
)
