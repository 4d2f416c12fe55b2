"""The report page in a real browser: Debian's chromium, headless, driven by selenium, at the
widths a researcher reads it at (1024 and 1400 px).

Every image must have loaded, nothing may be fetched, no element may stick out of the
viewport (wide tables scroll inside their own box), each test image with a mask must show
its ground-truth panel, every AP table must have its chance column, CT views must ascend
and the best method per (views, noise) must be marked. A full-page screenshot per width is
kept in ``test-artifacts/report-<width>.png``.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = (
    "/usr/bin/chromedriver"
    if Path("/usr/bin/chromedriver").exists()
    else shutil.which("chromedriver")
)
ARTIFACTS = REPO / "test-artifacts"
WIDTHS = (1024, 1400)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
# Elements that stick out of the viewport and are not inside a box that scrolls them.
OVERFLOW_JS = """
const limit = document.documentElement.clientWidth + 1;
const clipped = el => {
  for (let p = el.parentElement; p; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX;
    if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
  }
  return false;
};
return Array.from(document.body.querySelectorAll('*'))
  .filter(el => el.getBoundingClientRect().right > limit && !clipped(el))
  .map(el => el.tagName + (el.id ? '#' + el.id : '') + ' ' + Math.round(
    el.getBoundingClientRect().right));
"""


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "headless chromium or chromedriver is missing: run `bash tests/system-deps.sh` as root "
            "(Debian packages chromium and chromium-driver)"
        )
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed in this venv"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    chrome = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER)
    )
    chrome.set_page_load_timeout(120)
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module", params=WIDTHS, ids=lambda w: f"{w}px")
def page(request, driver, full_run):
    driver.set_window_size(request.param, 900)
    driver.get((full_run / "results/report/index.html").as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    driver.width = request.param
    return driver


def js(page, script: str, *args):
    return page.execute_script(script, *args)


def header(page, table_id: str) -> list[str]:
    return js(
        page,
        "const t = document.getElementById(arguments[0]);"
        " return t ? Array.from(t.tHead.rows[0].cells).map(c => c.textContent.trim()) : null;",
        table_id,
    )


def body_rows(page, table_id: str) -> int:
    return js(
        page,
        "const t = document.getElementById(arguments[0]);"
        " return t ? t.tBodies[0].rows.length : -1;",
        table_id,
    )


def test_every_image_loaded(page):
    images = js(
        page,
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, "
        "i.src.slice(0, 5)])",
    )
    assert images, "the report has no images"
    broken = [alt for alt, complete, width, _ in images if not complete or width == 0]
    assert not broken, f"images that did not load: {broken}"
    assert {src for *_, src in images} == {"data:"}, "every image must be embedded as a data URI"


def test_page_fetches_nothing(page):
    fetched = js(
        page,
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => "
        "!n.startsWith('data:'))",
    )
    assert fetched == []


def test_nothing_wider_than_the_viewport(page):
    assert js(page, "return window.innerWidth") == page.width
    assert js(page, "return document.documentElement.scrollWidth") <= page.width
    assert js(page, OVERFLOW_JS) == []


def test_ground_truth_panel_for_images_with_masks(page, full_run):
    scores = pd.read_csv(full_run / "results/report/segmentation/test_scores.csv")
    assert scores["has_mask"].any()
    for r in scores.itertuples():
        panels = js(
            page,
            "return Array.from(document.querySelectorAll('figure[data-kind=segment]'))"
            ".filter(f => f.dataset.image === arguments[0] && f.dataset.model === arguments[1]"
            " && f.dataset.res === arguments[2]).map(f => f.dataset.panels)",
            r.image,
            r.model,
            str(r.res),
        )
        assert panels, f"no figure for {r.image} {r.model} {r.res}"
        assert all(("ground truth" in p) == bool(r.has_mask) for p in panels), (r.image, panels)


def test_chance_next_to_every_ap(page, full_run):
    ap = pd.read_csv(full_run / "results/report/segmentation/ap.csv")
    for table_id in ("ap-best", "ap", "test-scores"):
        assert "chance" in header(page, table_id), table_id
    assert body_rows(page, "ap") == len(ap)
    assert body_rows(page, "ap-best") == len(ap[["dataset", "model", "res"]].drop_duplicates())


def test_ct_views_ascending_and_best_marked(page, full_run):
    config = yaml.safe_load((full_run / "config.yaml").read_text())
    ct = pd.read_csv(full_run / "results/report/ct/ct.csv")
    views = [f"{v} views" for v in sorted(config["ct"]["views"])]
    for metric in ("psnr", "ssim"):
        assert header(page, f"ct-{metric}")[2:] == views
        best = js(
            page,
            "return Array.from(document.querySelectorAll('#ct-' + arguments[0] + ' td.best'))"
            ".map(td => [td.parentElement.dataset.noise, td.parentElement.dataset.method,"
            " td.cellIndex, td.querySelector('strong') !== null])",
            metric,
        )
        winners = ct.loc[ct.groupby(["noise", "views"])[f"{metric}_mean"].idxmax()]
        expected = {
            (r.noise, r.method, 2 + sorted(config["ct"]["views"]).index(r.views))
            for r in winners.itertuples()
        }
        assert {(n, m, i) for n, m, i, _ in best} == expected
        assert all(bold for *_, bold in best)
    assert js(page, "return document.querySelectorAll('#ct-psnr tr.random').length") > 0


def test_random_banner_and_summary(page):
    banner = page.find_element("id", "random-banner")
    assert banner.is_displayed() and "RANDOM" in banner.text
    sections = js(
        page, "return Array.from(document.querySelectorAll('main > section')).map(s => s.id)"
    )
    assert sections[0] == "summary" and sections[-1] == "config"
    assert page.find_element("id", "git-commit").text
    assert page.find_element("id", "devices-used").text != "not recorded"


def test_screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)
    height = js(page, "return document.documentElement.scrollHeight")
    page.set_window_size(page.width, min(max(height, 800), 30000))
    path = ARTIFACTS / f"report-{page.width}.png"
    assert page.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    page.set_window_size(page.width, 900)
