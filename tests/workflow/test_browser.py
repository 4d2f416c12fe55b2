"""The report page in a real browser: Debian's chromium, headless, driven by selenium.

Every image must have loaded (``naturalWidth > 0``), the page must fetch nothing from
the network, and each table must have the rows its CSV implies. A full-page
screenshot is kept in ``test-artifacts/report.png``.
"""

import shutil
from pathlib import Path

import pytest
from conftest import REPO

from fmeval.report.page import ct_long, read_csv

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = (
    "/usr/bin/chromedriver"
    if Path("/usr/bin/chromedriver").exists()
    else shutil.which("chromedriver")
)
ARTIFACTS = REPO / "test-artifacts"
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
    "--window-size=1280,1000",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
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
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER)
    )
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(browser, full_run):
    browser.get((full_run / "results/report/index.html").as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return browser


def rows(driver, table_id: str) -> int:
    return driver.execute_script(
        "const t = document.getElementById(arguments[0]);"
        " return t ? t.tBodies[0].rows.length : -1;",
        table_id,
    )


def test_every_image_loaded(page):
    images = page.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, "
        "i.src.slice(0, 5)])"
    )
    assert images, "the report has no images"
    broken = [alt for alt, complete, width, _ in images if not complete or width == 0]
    assert not broken, f"images that did not load: {broken}"
    assert {src for *_, src in images} == {"data:"}, "every image must be embedded as a data URI"


def test_page_fetches_nothing(page):
    fetched = page.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => "
        "!n.startsWith('data:'))"
    )
    assert fetched == []


def test_tables_have_expected_rows(page, full_run):
    config = pytest.importorskip("yaml").safe_load((full_run / "config.yaml").read_text())
    assert rows(page, "models") == len(config["models"])
    seg = full_run / "results/report/segmentation/ap.csv"
    if seg.exists():
        ap = read_csv(seg)
        keys = [c for c in ("dataset", "model") if c in ap.columns]
        assert rows(page, "ap-best") == len(ap[keys].drop_duplicates())
        assert rows(page, "ap") == len(ap)
    ct = full_run / "results/report/ct/ct.csv"
    if ct.exists():
        long = ct_long(read_csv(ct))
        for metric in ("psnr", "ssim"):
            cells = long[long["metric"] == metric.upper()]
            assert rows(page, f"ct-{metric}") == len(cells[["noise", "method"]].drop_duplicates())
    # every job but build_report itself, whose benchmark is written after its page
    benchmarks = sorted(
        p for p in (full_run / "benchmarks").rglob("*.tsv") if p.name != "build_report.tsv"
    )
    assert rows(page, "cost-jobs") == len(benchmarks) > 0
    job_rules = page.execute_script(
        "return Array.from(document.getElementById('cost-jobs').tBodies[0].rows).map(r => "
        "r.cells[0].textContent)"
    )
    assert rows(page, "cost-rules") == len(set(job_rules))
    assert "extract_features" in job_rules


def test_random_banner_shows(page):
    banner = page.find_element("id", "random-banner")
    assert banner.is_displayed()
    assert "RANDOM WEIGHTS" in banner.text


def test_screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.execute_script("return document.documentElement.scrollHeight")
    page.set_window_size(1280, min(max(height, 800), 16000))
    path = ARTIFACTS / "report.png"
    assert page.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
