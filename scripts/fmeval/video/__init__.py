"""Video object segmentation: label propagation on DAVIS-layout videos, scored by J&F."""
