"""The student's path in a real browser: headless Chromium (Debian's chromium and
chromium-driver, via Selenium) driving JupyterLab on 127.0.0.1.

Each track's solved notebook is renamed the way browsers rename downloads
(`collective_comms (1).ipynb`), put in a sub-folder, stripped of its outputs and run top to
bottom with Run All. Checked: nothing raises; an invalid Lock answer is refused and a valid one
reveals; a slider change redraws the figure. Screenshots of every part of every track go to
docs/screenshots/ when COMMSLAB_SCREENSHOTS=1 (else to the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from comms_core.scenarios import TRACKS

ROOT = Path(__file__).resolve().parent.parent
NAME = "collective_comms (1).ipynb"
# The cells a screenshot is taken of, by grade_id: every part, the crisis, the ledger.
SHOTS = {
    "part1": "workbench_part1",
    "part2": "workbench_part2",
    "part3": "workbench_part3",
    "crisis": "crisis",
}

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    subprocess.run([str(ROOT / "scripts" / "install_browser_tools.sh")], check=True)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"commslab-chromium-{os.getpid()}"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options
    )
    driver.set_page_load_timeout(120)  # no browser call may block the suite for long
    driver.set_script_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, rooted in a fresh folder; cells not windowed."""
    root = tmp_path_factory.mktemp("jupyter")
    settings = root / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = root / ".settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, token = _free_port(), "commslab-browser-test"
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"))
    env.pop("COMMS_LAB_STATIC", None)
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=True", "--allow-root",
            "--LabApp.expose_app_in_browser=True",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start: " + (root / "server.log").read_text()[-2000:])
    yield root, base, token
    server.terminate()
    server.wait(timeout=30)


def _notebook(track: str, lock1: str) -> nbformat.NotebookNode:
    path = ROOT / "solutions" / "collective_comms" / f"collective_comms_{track}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if gid == "lock_part1":
            cell.source = f"PREDICTION_PART1 = {lock1!r}"
        if gid in ("check_bonus", "calibrate"):
            cell.source = "# (skipped in the browser test)"
    return nb


def _run_all(driver, timeout: float = 900) -> None:
    """Run All in the open notebook; wait until every code cell has an execution count.

    Read from JupyterLab's own cell models (not the page's text, where a hidden tab's cells
    show no prompt)."""
    for _ in range(60):  # the app and the notebook's kernel are ready
        if driver.execute_script(
            "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            "return !!(w && w.sessionContext && w.sessionContext.session"
            " && w.sessionContext.session.kernel"
            " && w.sessionContext.session.kernel.status === 'idle');"
        ):
            break
        time.sleep(1)
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    deadline = time.time() + timeout
    time.sleep(2)
    counts: list = []
    while time.time() < deadline:
        status, counts = driver.execute_script(
            "const w = window.jupyterapp.shell.currentWidget;"
            "const code = w.content.widgets.filter(c => c.model.type === 'code');"
            "return [w.sessionContext.session.kernel.status,"
            " code.map(c => c.model.executionCount)];"
        )
        if status == "idle" and counts and all(c is not None for c in counts):
            return
        time.sleep(1)
    pytest.fail(f"the notebook did not finish in {timeout} s: execution counts {counts}")


def _notebook_node(driver):
    """The open notebook's own DOM node (other tabs' notebooks stay in the page, hidden)."""
    return driver.execute_script("return window.jupyterapp.shell.currentWidget.content.node;")


def _cells(driver, nb) -> dict:
    from selenium.webdriver.common.by import By

    elements = _notebook_node(driver).find_elements(By.CSS_SELECTOR, ".jp-Cell")
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert len(elements) == len(ids)
    return dict(zip(ids, elements, strict=True))


def _open(driver, lab_server, track: str, lock1: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    root, base, token = lab_server
    folder = root / "Downloads" / track
    folder.mkdir(parents=True, exist_ok=True)
    nb = _notebook(track, lock1)
    nbformat.write(nb, folder / NAME)
    # a fresh workspace per track, so that no earlier notebook is restored beside this one
    url = (
        f"{base}/lab/workspaces/{track}/tree/Downloads/{track}/{NAME.replace(' ', '%20')}"
        f"?reset&token={token}"
    )
    driver.get(url)
    WebDriverWait(driver, 120).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell"))
    )
    time.sleep(3)
    return nb


def _shoot(driver, element, path: Path) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
    time.sleep(0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))


def _shots_dir(tmp_path: Path) -> Path:
    if os.environ.get("COMMSLAB_SCREENSHOTS") == "1":
        return ROOT / "docs" / "screenshots"
    return tmp_path / "screenshots"


# Two tracks run in the suite (one refused Lock, one accepted); edge_guardian and mobile_nomad
# did not finish in this machine's time budget yet: COMMSLAB_BROWSER_TRACKS=all runs all four.
BROWSER_TRACKS = (
    sorted(TRACKS)
    if os.environ.get("COMMSLAB_BROWSER_TRACKS") == "all"
    else ["cloud_titan", "tiny_pioneer"]
)


@pytest.mark.parametrize("track", BROWSER_TRACKS)
def test_the_renamed_notebook_runs_in_jupyterlab(browser, lab_server, track, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    lock1 = "maybe" if track == "cloud_titan" else "less"
    nb = _open(browser, lab_server, track, lock1)
    _run_all(browser)
    page = _notebook_node(browser).text
    assert "Traceback" not in page and "Error displaying widget" not in page
    cells = _cells(browser, nb)
    part1 = cells["workbench_part1"].text
    if lock1 == "maybe":  # the Lock refuses, and no workbench opens
        assert "must be" in part1 and "maybe" in part1 and "crossover" not in part1.lower()
    else:
        assert "Recorded" in part1 and "Part 1 workbench" in part1
    assert "Recorded" in cells["workbench_part2"].text
    assert "passed" in cells["check_part1"].text

    shots = _shots_dir(tmp_path)
    for part, gid in SHOTS.items():
        _shoot(browser, cells[gid], shots / f"{track}_{part}.png")

    # a slider change redraws the Part 2 figure
    bench = cells["workbench_part2"]
    image = bench.find_element(By.CSS_SELECTOR, ".widget-image")
    before = image.get_attribute("src")
    handle = bench.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-handle")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    handle.click()
    handle.send_keys(Keys.ARROW_LEFT)
    for _ in range(60):
        if image.get_attribute("src") != before:
            break
        time.sleep(0.5)
    assert image.get_attribute("src") != before, "the figure did not change after the slider"
