"""Rule script: the seeded ellipse phantoms."""

from fmeval.ct.phantoms import make_phantoms
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],
    make_phantoms,
    n=int(snakemake.wildcards.n_phantoms),
    part=snakemake.wildcards.part,
    phantoms=snakemake.output.phantoms,
)
