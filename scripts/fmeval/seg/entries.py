"""The segmentation branch's rules and the functions they run (fmeval.entry): one line per rule."""

ENTRIES = {
    "cross_validate_probe": "fmeval.seg.cv:run_cross_validation",
    "fit_probe": "fmeval.seg.fit:run_fit",
    "render_attention": "fmeval.seg.attention:render_attention",
    "render_pca": "fmeval.seg.pca:render_pca",
    "report_segmentation": "fmeval.seg.summary:run_report",
    "segment_test_images": "fmeval.seg.segment:segment_test_images",
}
