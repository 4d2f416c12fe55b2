"""fmeval: zero-shot evaluation of vision foundation models.

All pipeline logic lives in this package as plain functions; the rule scripts in
``scripts/`` only unpack the ``snakemake`` object and call into it.
"""

__version__ = "0.1.0"
