"""The video branch's rules and the functions they run (fmeval.entry): one line per rule."""

ENTRIES = {
    "download_video": "fmeval.video.sequences:download_video",
    "predict_video_masks": "fmeval.video.prediction:run_prediction",
    "report_video": "fmeval.video.summary:run_report",
    "score_video": "fmeval.video.scores:run_scoring",
}
