"""Rule script: weighted k-NN accuracy of one cell, for every k and embedding."""

from fmeval.classify.evaluate import score_knn
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    score_knn,
    threads=snakemake.threads,
    embeddings=snakemake.input.embeddings,
    k=snakemake.params.k,
    temperature=snakemake.params.temperature,
    device=snakemake.params.device,
    vote=snakemake.params.vote,
    protocol=snakemake.params.protocol,
    table=snakemake.output.table,
    predictions=snakemake.output.predictions,
)
