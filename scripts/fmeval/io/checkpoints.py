"""Model weights on disk: their identity, and the marker of a random initialisation."""

RANDOM_INIT = "random-init"
