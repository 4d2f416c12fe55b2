"""The CT branch's rules and the functions they run (fmeval.entry): one line per rule."""

ENTRIES = {
    "fetch_ram_weights": "fmeval.ct.ramweights:fetch_ram_weights",
    "make_phantoms": "fmeval.ct.phantoms:make_phantoms",
    "measure_operator": "fmeval.ct.tomography:write_operator",
    "reconstruct_sinograms": "fmeval.ct.reconstruction:run_reconstruction",
    "report_ct": "fmeval.ct.summary:run_ct_report",
    "score_reconstructions": "fmeval.ct.scores:run_scoring",
    "simulate_sinograms": "fmeval.ct.tomography:run_simulation",
    "tune_baseline": "fmeval.ct.tuning:run_tuning",
}
