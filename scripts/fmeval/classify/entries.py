"""The classification branch's rules and the functions they run (fmeval.entry)."""

ENTRIES = {
    "download_classification_dataset": "fmeval.classify.download:download_classification_dataset",
    "fit_linear_probe": "fmeval.classify.evaluate:fit_linear_probe",
    "gather_embeddings": "fmeval.classify.embeddings:gather_embeddings",
    "report_classify": "fmeval.classify.summary:report_classify",
    "score_knn": "fmeval.classify.evaluate:score_knn",
}
