"""Every rule's script: the package function fmeval.entry.ENTRIES names, by argument name."""

from fmeval.entry import run

run(snakemake)  # noqa: F821 (snakemake puts the job there)
