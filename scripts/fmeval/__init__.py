"""fmeval: zero-shot evaluation of vision foundation models.

All pipeline logic lives in this package as plain functions; every rule's script,
``scripts/run_rule.py``, calls the function :data:`fmeval.entry.ENTRIES` names for the rule,
its arguments bound by name from the job (:mod:`fmeval.entry`).
"""

__version__ = "0.1.0"
