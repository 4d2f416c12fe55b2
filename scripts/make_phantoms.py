"""Rule script: the first n seeded ellipse phantoms of dival's test part, as .npy."""

from fmeval.ct.phantoms import make_phantoms
from fmeval.logs import run_logged

run_logged(
    snakemake.log[0],  # noqa: F821
    make_phantoms,
    n=int(snakemake.wildcards.n_phantoms),  # noqa: F821
    out=snakemake.output.phantoms,  # noqa: F821
)
