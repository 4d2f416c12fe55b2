"""The segmentation branch: linear probes on patch features, test-image segmentation,
PCA renders.
"""
