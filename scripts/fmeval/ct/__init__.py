"""The CT branch: seeded phantoms, sinograms, FBP/TV/RAM reconstructions and their scores."""
