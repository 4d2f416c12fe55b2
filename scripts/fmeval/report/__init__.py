"""The aggregated HTML report of a run."""
