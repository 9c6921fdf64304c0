"""index.html rendered by a real headless browser: every figure must load from the report
directory alone (offline, relative links). Skipped where no Chromium is installed."""

import re
import shutil
import subprocess

import pytest

from alexnet.report import build_report
from test_report import job

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
BROWSER = next((b for b in map(shutil.which, BROWSERS) if b), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")

# Marks every <img> once the page has loaded: naturalWidth > 0 only if the PNG was read.
PROBE = ("<script>window.addEventListener('load', () => { for (const img of document.images) "
         "img.setAttribute('data-loaded', img.complete && img.naturalWidth > 0 ? 'yes' : 'no'); "
         "document.body.setAttribute('data-checked', 'yes'); });</script>")


def rendered_dom(html_path, tmp_path):
    probe = html_path.with_name("_probe.html")
    probe.write_text(html_path.read_text().replace("</body>", PROBE + "</body>"))
    out = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chrome-profile'}", "--virtual-time-budget=5000",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_every_figure_of_index_html_loads_in_chromium(tmp_path):
    root = tmp_path / "sweep"
    for s in range(2):
        job(root, f"on{s}", {"model.lrn": True}, s, 0.40 + s / 100, 0.2, train_curve=[0.8, 0.5, 0.2])
        job(root, f"off{s}", {"model.lrn": False}, s, 0.45 + s / 50, 0.2, train_curve=[0.9, 0.6, 0.3])
    report = build_report([root], tmp_path / "report")
    dom = rendered_dom(report.html, tmp_path)
    assert 'data-checked="yes"' in dom
    images = re.findall(r"<img [^>]*>", dom)
    assert len(images) == len(report.figures) >= 2
    assert all('data-loaded="yes"' in img for img in images), images
    assert "Verdict" in dom and "paired t" in dom


def test_the_probe_sees_a_broken_image(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<!DOCTYPE html><html><body><img src="missing.png"></body></html>')
    dom = rendered_dom(page, tmp_path)
    assert 'data-loaded="no"' in dom


def test_the_runs_page_sorts_and_filters_in_chromium(tmp_path):
    from alexnet.tools.runs_page import runs_page

    root = tmp_path / "runs"
    errors = {("on", 0): 0.43, ("off", 0): 0.41, ("on", 1): 0.47, ("off", 1): 0.40}
    for (arm, seed), err in errors.items():
        job(root, f"{arm}{seed}", {"model.lrn": arm == "on"}, seed, err, 0.2)
    page = tmp_path / "runs.html"
    page.write_text(runs_page([root], [], page))
    # on load: sort by the test error (one click: ascending), then filter to LRN off
    probe = ("<script>window.addEventListener('load', () => { "
             "const th = [...document.querySelectorAll('#runs th')]"
             ".find(h => h.textContent === 'test top-1 %'); th.click(); "
             "document.body.setAttribute('data-order', [...document.querySelectorAll('#runs tbody tr')]"
             ".map(r => r.cells[th.cellIndex].textContent).join(' ')); "
             "const f = document.getElementById('filter'); f.value = 'lrn=false'; "
             "f.dispatchEvent(new Event('input')); "
             "document.body.setAttribute('data-shown', [...document.querySelectorAll('#runs tbody tr')]"
             ".filter(r => !r.hidden).map(r => r.cells[1].textContent).join(' ')); });</script>")
    page.write_text(page.read_text().replace("</body>", probe + "</body>"))
    dom = rendered_dom(page, tmp_path)
    assert 'data-order="40.00 41.00 43.00 47.00"' in dom
    assert 'data-shown="model.lrn=False model.lrn=False"' in dom
