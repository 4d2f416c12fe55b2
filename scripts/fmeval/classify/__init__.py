"""Image-level probes on frozen embeddings: weighted k-NN and linear classification."""
