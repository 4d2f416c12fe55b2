"""The shared feature layer: datasets, images, backbones, extraction and the Parquet
feature cache.
"""
