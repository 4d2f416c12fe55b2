"""The report page rendered from a fixed small run: its key elements, read back from the HTML."""

import re
from pathlib import Path

import pandas as pd
import pytest

from fmeval.errors import DataError
from fmeval.features.families import model_facts
from fmeval.plots import RANDOM_BANNER
from fmeval.report.render import build_report
from fmeval.report.sections import SECTIONS
from unit.report.dom import parse, table_rows
from unit.report.fixtures import CONFIG, IMAGES, MODELS, PATTERNS, ct_rows, write_run

RULES = ["extract_features", "reconstruct_sinograms", "render_pca", "build_report"]


def render(tmp_path, monkeypatch, *, random_init=True, inputs=None, config=CONFIG):
    monkeypatch.chdir(tmp_path)
    if inputs is None:
        inputs = write_run(Path("."), random_init=random_init)
    build_report(
        config=config,
        inputs=inputs,
        benchmark_root="benchmarks",
        benchmark_patterns=PATTERNS,
        rules=RULES,
        workflow_dir=str(tmp_path),
        html="index.html",
        ap="ap.csv",
        ct="ct.csv",
    )
    html = (tmp_path / "index.html").read_text()
    return html, parse(html)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="module")
def page(run_dir):
    with pytest.MonkeyPatch.context() as monkeypatch:
        return render(run_dir, monkeypatch)


def test_sections_in_order_summary_first_config_last(page):
    _, dom = page
    ids = [s.attrs["id"] for s in dom.find_all("section")]
    assert ids == ["summary", *(s.id for s in SECTIONS), "cost", "config"]


def test_page_is_self_contained(page):
    html, dom = page
    srcs = [img.attrs["src"] for img in dom.find_all("img")]
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(src|href)="(?!data:|#)', html), "the page must not load anything"
    assert "<style>" in html and "overflow-x: auto" in html  # the CSS is inline


def test_random_banner_and_random_rows(page):
    _, dom = page
    banner = dom.by_id("random-banner")
    assert RANDOM_BANNER in banner.text and "vits14" in banner.text
    ram = [r for r in dom.by_id("ct-psnr").find_all("tr") if r.attrs.get("data-method") == "ram"]
    assert ram and all("random" in r.classes for r in ram)
    assert all("random weights" in r.find_all("td")[1].text for r in ram)


def test_no_banner_with_real_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = write_run(Path("."), random_init=False)
    inputs["ct_tables"] = []
    inputs["ct_figures"] = []
    html, dom = render(tmp_path, monkeypatch, inputs=inputs)
    assert not dom.find_all(id="random-banner") and RANDOM_BANNER not in html
    assert "No CT reconstruction results in this run." in dom.by_id("ct").text


def test_chance_next_to_every_ap(page):
    _, dom = page
    for id in ("ap-best", "ap", "test-scores"):
        header = [th.text for th in dom.by_id(id).find_all("th")]
        assert "chance" in header, id
        assert header.index("chance") == next(i for i, h in enumerate(header) if "AP" in h) + 1
    assert [r[5] for r in table_rows(dom, "ap-best")] == ["0.210"] * 4


def test_zero_iou_is_explained(page):
    _, dom = page
    notes = {(r[0], r[1], r[2]): r[-1] for r in table_rows(dom, "test-scores")}
    assert "no patch passed the threshold 0.5" in notes[("vits14", "224", "dog")]
    assert "0.310" in notes[("vits14", "224", "dog")]
    assert notes[("vits14", "224", "camel")] == ""
    assert "no patch passed" in dom.by_id("iou-explained").text


def test_ct_views_ascending_and_best_in_bold(page):
    _, dom = page
    for metric in ("psnr", "ssim"):
        table = dom.by_id(f"ct-{metric}")
        assert [th.text for th in table.find_all("th")][2:] == ["10 views", "20 views"]
        best = {
            (tr.attrs["data-noise"], i)
            for tr in table.find_all("tr")
            for i, td in enumerate(tr.find_all("td"))
            if "best" in td.classes and td.find_all("strong")
        }
        assert len(best) == 4  # one per (noise, views)
    rows = {(r[0], r[1].split()[0]): r for r in table_rows(dom, "ct-psnr")}
    expected = ct_rows().set_index(["noise", "method", "views"])["psnr_mean"]
    assert rows[("clean", "tv")][2].startswith(f"{expected[('clean', 'tv', 10)]:.2f} ± 0.20")
    tds = dom.by_id("ct-psnr").find_all("td", cls="best")
    best = ct_rows().groupby(["noise", "views"])["psnr_mean"].max()
    assert sorted(td.text.split()[0] for td in tds) == sorted(f"{v:.2f}" for v in best)
    assert dom.by_id("ct-phantoms").text == "4"


def test_ct_paired_differences_bold_only_where_established(page):
    """issue 26: a difference against the best baseline is in bold only when its paired
    interval excludes 0 (RAM with clean data in the fixture)."""
    _, dom = page
    table = dom.by_id("ct-psnr-paired")
    bold = {
        (tr.attrs["data-noise"], tr.attrs["data-method"])
        for tr in table.find_all("tr")
        for td in tr.find_all("td")
        if "best" in td.classes and td.find_all("strong")
    }
    assert bold == {("clean", "ram")}
    rows = {(r[0], r[1]): r for r in table_rows(dom, "ct-psnr-paired")}
    assert rows[("clean", "ram")][2] == "-1.50 [-2.00, -1.00] 1W/3L"
    assert rows[("low", "tv")][2] == "best baseline" and rows[("low", "fbp")][3] == "best baseline"


def test_ct_settings_show_the_tuned_values_and_flag_tv_at_its_step_maximum(page):
    _, dom = page
    rows = {(r[0], r[1]): r for r in table_rows(dom, "ct-settings")}
    assert rows[("clean", "10")][2] == "hann, cut-off 0.7 (tuned)"
    assert rows[("clean", "10")][4] == "lam=0.01 (tuned)"
    assert rows[("clean", "10")][7] == "2 of 4" and rows[("clean", "20")][7] == "0"
    assert "TV at 10 views, noise clean: 2 of 4 phantoms" in dom.by_id("ct-hit-max").text


def test_ct_examples_name_method_and_metric(page):
    _, dom = page
    captions = [f.text for f in dom.by_id("ct").find_all("figcaption") if "median" in f.text]
    assert len(captions) == 2
    assert all("PSNR averaged over the methods (FBP, RAM, TV)" in c for c in captions)


def test_grid_and_ground_truth_panels(page):
    _, dom = page
    grid = dom.by_id("seg-grid")
    assert [th.text for th in grid.find_all("thead")[0].find_all("th")][1:] == sorted(MODELS)
    assert len(grid.find_all("tbody")[0].find_all("tr")) == len(IMAGES)
    figures = dom.find_all("figure", data_kind="segment")
    assert len(figures) == len(IMAGES) * len(MODELS) * 2  # the grid at 448 px, then 224 px
    for f in figures:
        has_mask = f.attrs["data-has-mask"] == "true"
        assert ("ground truth" in f.attrs["data-panels"]) == has_mask
        assert ("ground truth" in f.find_all("figcaption")[0].text) == has_mask


def test_captions_are_sentences(page):
    _, dom = page
    for caption in dom.find_all("figcaption"):
        assert caption.text[0].isupper() and caption.text.endswith("."), caption.text
        assert "results/" not in caption.text


def test_summary_facts(page):
    _, dom = page
    assert dom.by_id("git-commit").text == "not a git checkout"
    assert dom.by_id("devices-used").text == "cpu"
    assert ["reconstruct_sinograms", "cpu", "12"] in table_rows(dom, "devices")
    stages = dict((r[0], r[2]) for r in table_rows(dom, "stage-times"))
    assert stages == {"ct": f"{4 * (1 + 8 + 20):.1f}", "features": "12.5"}


def test_model_table_says_the_family(page):
    """Issue 28: family, image embedding, native resolution, input normalisation, and
    whether CLS attention maps exist, from the fetch record."""
    _, dom = page
    (row,) = table_rows(dom, "models")
    assert row[6:] == [
        "DINOv2",
        "CLS token (last block, no final norm)",
        "518 px",
        "0.485, 0.456, 0.406",
        "0.229, 0.224, 0.225",
        "available",
    ]


def test_family_row_of_an_older_manifest():
    from fmeval.report.overview import FAMILY_KEYS, family_row

    assert family_row({"key": "m"}) == dict.fromkeys(FAMILY_KEYS, "–")
    siglip = model_facts("timm", "vit_base_patch16_siglip_224.v2_webli")
    row = family_row(siglip)
    assert row["input_mean"] == "0.5, 0.5, 0.5" and row["native_res"] == "224 px"
    assert row["attention_maps"] == "not available: the model has no CLS token"


def test_cost_covers_every_rule_and_ct_methods(page):
    _, dom = page
    rules = [r[0] for r in table_rows(dom, "cost-rules")]
    assert sorted(rules) == sorted(RULES)
    per_method = {r[0]: r for r in table_rows(dom, "cost-ct-methods")}
    assert set(per_method) == {"fbp", "ram", "tv"}
    assert per_method["tv"][4] == f"{20.0 / 4:.2f}"  # seconds per phantom
    notes = dom.by_id("cost-notes").text
    for column in ("total_wall_s", "peak_rss_mb", "total_cpu_s", "mean_load"):
        assert column in notes


def test_cost_gives_images_per_second_of_each_extraction_job(page):
    _, dom = page
    rows = table_rows(dom, "cost-extraction")  # fixtures: 5 images in 12.5 s
    assert [r[:3] for r in rows] == [
        ["extract_features", "dataset=davis, model=vits14, res=224", "5"]
    ]
    assert rows[0][4] == f"{5 / 12.5:.2f}"
    assert "images_per_s" in dom.by_id("cost-notes").text


def test_csvs_beside_the_page(page, run_dir):
    ap = pd.read_csv(run_dir / "ap.csv")
    assert {"chance_ap", "random_init"} <= set(ap.columns) and len(ap) == 12
    assert pd.read_csv(run_dir / "ct.csv")["random_init"].sum() == 4


def test_missing_column_names_the_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = write_run(Path("."))
    table = tmp_path / "results/report/segmentation/ap_best.csv"
    pd.read_csv(table).drop(columns=["chance_ap"]).to_csv(table, index=False)
    with pytest.raises(DataError, match=r"ap_best\.csv lacks the column\(s\) \['chance_ap'\]"):
        render(tmp_path, monkeypatch, inputs=inputs)


def test_an_off_branch_says_so_and_its_csv_is_a_note(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = write_run(Path("."), random_init=False)
    inputs["ct_tables"], inputs["ct_figures"] = [], []  # build_report lists no off branch
    _, dom = render(
        tmp_path, monkeypatch, inputs=inputs, config={**CONFIG, "branches": ["segmentation"]}
    )
    text = dom.by_id("ct").text
    assert "CT reconstruction is off in this run: `branches` does not list ct." in text
    assert "Video segmentation is off in this run" in dom.by_id("video").text
    assert pd.read_csv(tmp_path / "ct.csv")["note"].tolist() == [
        "CT reconstruction is off in this run: `branches` does not list ct"
    ]
    assert "C" in pd.read_csv(tmp_path / "ap.csv").columns  # segmentation ran
