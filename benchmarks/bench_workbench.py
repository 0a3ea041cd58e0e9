"""Redraw latency per control (median and worst) and the setup cell's time: in the kernel and
in the browser, in the same run.

Run: .venv/bin/python benchmarks/bench_workbench.py [--kernel-only] [--track cloud_titan]
Aims (issues 9 and 23): a control's redraw at most 0.3 s and the setup cell at most 2 s, as the
student sees them in the browser.

Kernel side (in this process): a control change is what ipywidgets does when the student lets
go of a slider: the control's value changes and the workbench recomputes its numbers and
redraws its figure (the PNG included). Its baseline is one PNG of an empty figure of the same
size. The setup cell runs in a fresh interpreter, as a kernel's first cell does (baseline:
`import numpy` alone).

Browser side: JupyterLab (this checkout's .venv) in headless Chromium (Debian's chromium and
chromium-driver through Selenium, as tests/test_browser.py drives it). A track's solved
notebook, outputs stripped, runs cell by cell from the top, as a student works; right after a
workbench's cell, each of its controls is changed with a real click or key press, and the
redraw is timed in the page from the input event to the moment the cell's new picture (its
image/png output's <img>) is in the page and decoded (a MutationObserver on the cell).
The setup cell is timed in the page from Run to its execution
count, on the first kernel and after kernel restarts. As a student does, the benchmark reads a
panel before using its controls (--read, 10 s) and looks at each new picture (--look, 1.5 s):
the kernel draws ahead what a control with a few settings can show while it waits
(commslab/notebook/render.py); the sliders' pictures are drawn when asked for. The machine is
shared (2 cores): the load average is printed with the figures; compare medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
from matplotlib.figure import Figure

from comms_core import compression
from comms_core.scenarios import CONVERGENCE_DIM, scenario_for
from commslab.notebook import workbench as wb
from commslab.notebook.hud import topology_hud

ROOT = Path(__file__).resolve().parent.parent


def _latencies(bench, changes, repeats: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (this process's; less noisy on a shared machine) per change."""
    seconds, cpu = [], []
    for i in range(repeats):
        name, value = changes[i % len(changes)]
        start, cpu0 = time.perf_counter(), time.process_time()
        bench.controls[name].value = value
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
    return seconds, cpu


def _png_floor(repeats: int) -> tuple[list[float], list[float]]:
    seconds, cpu = [], []
    for _ in range(repeats):
        fig = Figure(figsize=(7, 3.4), layout="constrained")
        fig.add_subplot()
        start, cpu0 = time.perf_counter(), time.process_time()
        wb._figure_png(fig)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
    return seconds, cpu


def _setup_cell_seconds(source: str) -> float:
    start = time.perf_counter()
    # (not in the checkout's folder: the installed package, or PYTHONPATH's, is imported)
    subprocess.run([sys.executable, "-c", source], check=True, cwd=tempfile.gettempdir())
    return time.perf_counter() - start


# --- the browser side ------------------------------------------------------------------------

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
SKIPPED = ("check_bonus", "calibrate")  # MPI: not what this measures

# Armed before an input: the time of the next click or key press (capture phase, so before
# any widget handles it) and the time the cell shows a picture it did not show before.
ARM = """
const cell = arguments[0];
const pictures = () => Array.from(cell.querySelectorAll('.jp-RenderedImage img'));
const before = new Set(pictures().map(i => i.src));
const b = window.__bench = {t0: null, t1: null};
const start = e => { if (b.t0 === null) b.t0 = performance.now(); };
document.addEventListener('keydown', start, {capture: true, once: true});
document.addEventListener('mousedown', start, {capture: true, once: true});
const look = () => {
  const fresh = pictures().find(i => i.src && !before.has(i.src));
  if (!fresh || b.done) return;
  b.done = true;
  observer.disconnect();
  fresh.decode().catch(() => null).then(() => { b.t1 = performance.now(); });
};
const observer = new MutationObserver(look);
observer.observe(cell, {subtree: true, childList: true, attributes: true,
                        attributeFilter: ['src']});
b.observer = observer;
"""
WAIT = """
const done = arguments[arguments.length - 1];
const b = window.__bench, limit = performance.now() + arguments[0] * 1000;
(function poll() {
  if (b.t0 !== null && b.t1 !== null) return done((b.t1 - b.t0) / 1000);
  if (performance.now() > limit) { b.observer.disconnect(); return done(null); }
  setTimeout(poll, 5);
})();
"""
# Run one cell and time it in the page: from the command to its execution count (cleared
# first, so a restarted kernel's count 1 counts too); the result waits in window.__cell.
RUN_CELL = """
const index = arguments[0];
const w = window.jupyterapp.shell.currentWidget, cell = w.content.widgets[index];
cell.model.executionCount = null;
w.content.activeCellIndex = index;
const r = window.__cell = {seconds: null};
const t0 = performance.now();
window.jupyterapp.commands.execute('notebook:run-cell');
(function poll() {
  if (cell.model.executionCount !== null) { r.seconds = (performance.now() - t0) / 1000; return; }
  setTimeout(poll, 5);
})();
"""
KERNEL_IDLE = (
    "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
    "return !!(w && w.sessionContext && w.sessionContext.session"
    " && w.sessionContext.session.kernel"
    " && w.sessionContext.session.kernel.status === 'idle');"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, timeout: float, what: str, step: float = 0.2) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(step)
    raise RuntimeError(f"timed out waiting for {what}")


class Lab:
    """JupyterLab from this checkout's .venv on 127.0.0.1, and headless Chromium on it."""

    def __init__(self, root: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        subprocess.run([str(ROOT / "scripts" / "install_browser_tools.sh")], check=True)
        for name, setting, value in (
            ("notebook-extension", "tracker", {"windowingMode": "none"}),
            ("apputils-extension", "notification", {"fetchNews": "false"}),
        ):
            folder = root / ".settings" / "@jupyterlab" / name
            folder.mkdir(parents=True)
            (folder / f"{setting}.jupyterlab-settings").write_text(json.dumps(value))
        self.root, self.token, port = root, "commslab-bench", _free_port()
        env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"))
        self.log = (root / "server.log").open("w")
        self.server = subprocess.Popen(
            [
                sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                f"--port={port}", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=True",
                "--allow-root", "--LabApp.expose_app_in_browser=True",
            ],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2)
                return True
            except OSError:
                return False

        _wait(up, 120, "JupyterLab", 0.5)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in (*FLAGS, f"--user-data-dir={root / 'chromium'}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(
            service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
            options=options,
        )
        self.driver.set_page_load_timeout(120)
        self.driver.set_script_timeout(60)

    def open(self, name: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(f"{self.base}/lab/workspaces/bench/tree/{name}?reset&token={self.token}")
        WebDriverWait(self.driver, 120).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell"))
        )
        _wait(lambda: self.driver.execute_script(KERNEL_IDLE), 120, "the kernel", 0.5)

    def run_cell(self, index: int, timeout: float = 300) -> float:
        self.driver.execute_script(RUN_CELL, index)
        _wait(
            lambda: self.driver.execute_script("return window.__cell.seconds !== null;"),
            timeout,
            f"cell {index}",
            0.05,
        )
        _wait(lambda: self.driver.execute_script(KERNEL_IDLE), timeout, "the kernel")
        return self.driver.execute_script("return window.__cell.seconds;")

    def restart_kernel(self) -> None:
        self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()"
            ".then(() => done(true), () => done(false));"
        )
        time.sleep(1)
        _wait(lambda: self.driver.execute_script(KERNEL_IDLE), 120, "the restarted kernel")

    def cells(self) -> list:
        from selenium.webdriver.common.by import By

        node = self.driver.execute_script(
            "return window.jupyterapp.shell.currentWidget.content.node;"
        )
        return node.find_elements(By.CSS_SELECTOR, ".jp-Cell")

    def redraw(self, cell, act, timeout: float = 30) -> float | None:
        """Seconds from the input `act()` makes to the cell's new picture (None: no picture)."""
        self.driver.execute_script(ARM, cell)
        act()
        return self.driver.execute_async_script(WAIT, timeout)

    def close(self) -> None:
        self.driver.quit()
        self.server.terminate()
        self.server.wait(timeout=30)
        self.log.close()


def _bench_notebook(track: str) -> nbformat.NotebookNode:
    nb = nbformat.read(
        ROOT / "solutions" / "collective_comms" / f"collective_comms_{track}.ipynb", 4
    )
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if cell.metadata.get("nbgrader", {}).get("grade_id") in SKIPPED:
                cell.source = "# (skipped by the benchmark)"
    return nb


def _keys(lab: Lab, cell, selector: str, key: str, nth: int = 0):
    from selenium.webdriver.common.by import By

    handle = cell.find_elements(By.CSS_SELECTOR, selector)[nth]
    lab.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    time.sleep(0.3)
    handle.click()  # focus (a click on the handle itself does not move it)
    time.sleep(0.5)  # let a click's own change (if any) settle before arming
    return lambda: handle.send_keys(key)


def _click(lab: Lab, cell, selector: str, text: str | None = None):
    from selenium.webdriver.common.by import By

    buttons = cell.find_elements(By.CSS_SELECTOR, selector)
    button = next(b for b in buttons if text is None or b.text.startswith(text))
    lab.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    time.sleep(0.3)
    return button.click


def _slider(lab: Lab, cell, nth: int, moves: list[str], look: float) -> list[float | None]:
    from selenium.webdriver.common.keys import Keys

    out = []
    for move in moves:
        key = Keys.ARROW_RIGHT if move == "right" else Keys.ARROW_LEFT
        out.append(lab.redraw(cell, _keys(lab, cell, ".widget-slider .noUi-handle", key, nth)))
        time.sleep(look)
    return out


def browser_rows(
    track: str, repeats: int, restarts: int, read: float, look: float
) -> tuple[list, dict]:
    """{control: [seconds]} in the browser and the setup cell's seconds. Before a control's
    first change the benchmark waits READ seconds (the student reads its panel), and LOOK
    seconds after each change (the student looks at the new picture)."""
    nb = _bench_notebook(track)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        nbformat.write(nb, Path(tmp) / "bench.ipynb")
        lab = Lab(Path(tmp))
        try:
            lab.open("bench.ipynb")
            setup = {"first kernel": [lab.run_cell(ids.index("setup"))], "after restart": []}
            for _ in range(restarts):
                lab.restart_kernel()
                setup["after restart"].append(lab.run_cell(ids.index("setup")))
            lab.restart_kernel()
            half = ["right"] * ((repeats + 1) // 2) + ["left"] * (repeats // 2)
            rows: list = []

            def sliders(cell, *which: tuple[str, int, list[str]]) -> None:
                for name, nth, moves in which:
                    time.sleep(read)
                    rows.append((name, _slider(lab, cell, nth, moves, look)))

            def clicks(name: str, cell, selector: str, texts: list[str]) -> None:
                time.sleep(read)
                out = []
                for text in texts:
                    out.append(lab.redraw(cell, _click(lab, cell, selector, text)))
                    time.sleep(look)
                rows.append((name, out))

            def part3(cell) -> None:
                from selenium.webdriver.common.by import By

                clicks("Part 3 error-feedback toggle", cell, ".widget-toggle-button",
                       ["Error"] * repeats)  # fmt: skip
                buttons = ".widget-toggle-buttons button"
                names = [b.text for b in cell.find_elements(By.CSS_SELECTOR, buttons)]
                order = (names[1:] + names[:1]) * (1 + repeats // len(names))
                clicks("Part 3 compressor buttons", cell, buttons,
                       order[: max(repeats, len(names))])  # fmt: skip

            measure = {  # each control right after its cell ran, top to bottom
                "workbench_part1": lambda c: sliders(
                    c, ("Part 1 M slider", 0, half), ("Part 1 β slider", 3, half)
                ),
                "topology_hud": lambda c: sliders(c, ("HUD step slider", 0, ["right"] * repeats)),
                "workbench_part2": lambda c: sliders(c, ("Part 2 β between groups", 1, half)),
                "workbench_part3": part3,
            }
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    lab.run_cell(i)
                    if ids[i] in measure:
                        measure[ids[i]](lab.cells()[i])
        finally:
            lab.close()
    return rows, setup


def _show(seconds: list[float | None]) -> str:
    got = [s for s in seconds if s is not None]
    missed = len(seconds) - len(got)
    if not got:
        return f"{'-':>9s} {'-':>7s}  ({missed} without a new picture)"
    tail = f"  ({missed} without a new picture)" if missed else ""
    return f"{statistics.median(got):9.3f} {max(got):7.3f}  n={len(got)}{tail}"


def kernel_rows(repeats: int) -> list:
    s = scenario_for("cloud_titan", "2026-fall", "bench")
    part1 = wb.crossover_workbench(
        N=s.N, alpha=s.alpha, beta=s.beta, M=s.M_message, prediction="less", static=False
    )
    # settings not drawn before (a revisited one comes from the picture cache)
    part1_changes = [(name, value * 1.12**k) for k in range(1, 9) for name, value in
                     (("M", s.M_message), ("beta", s.beta))]  # fmt: skip
    part2 = wb.hierarchical_workbench(
        M=s.M_model, G=s.G, K=s.K, alpha_intra=s.alpha_intra, beta_intra=s.beta_intra,
        alpha_inter=s.alpha_inter, beta_inter=s.beta_inter, t_compute=s.t_compute,
        micro_batch=s.micro_batch, B_noise=s.B_noise, prediction="yes", static=False,
    )  # fmt: skip
    part2_changes = [("beta_inter", s.beta_inter * 1.12**k) for k in range(1, 17)]
    part3 = wb.compression_workbench(
        d=int(s.d), dim=CONVERGENCE_DIM, prediction="worse", static=False
    )  # as lab.part3 builds it
    others = [c for c in compression.COMPRESSORS if c not in ("none", "1-bit (scaled sign)")]
    part3_changes = [("error_feedback", True), ("error_feedback", False)] + [
        ("compressor", c)
        for c in others  # each one's training runs for the first time
    ]
    hud = topology_hud(N=s.N, M=s.M_message, alpha=s.alpha, beta=s.beta, static=False)
    hud_changes = [("step", k) for k in range(2, 2 + repeats)]  # steps not drawn before
    rows = [("baseline: PNG of an empty figure", _png_floor(repeats))]  # (wall, CPU)
    rows.append(("Part 1 crossover (M, β sliders)", _latencies(part1, part1_changes, repeats)))
    rows.append(("Part 2 hierarchy (β_inter slider)", _latencies(part2, part2_changes, repeats)))
    rows.append(("Part 3 compression (EF, compressor)", _latencies(part3, part3_changes, repeats)))
    rows.append(("Part 1 topology HUD (step slider)", _latencies(hud, hud_changes, repeats)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel-only", action="store_true", help="no browser")
    parser.add_argument("--track", default="cloud_titan", help="the solved notebook's track")
    parser.add_argument("--repeats", type=int, default=8, help="changes per control")
    parser.add_argument("--restarts", type=int, default=3, help="setup cell after restarts")
    parser.add_argument("--read", type=float, default=10, help="s before a control's first use")
    parser.add_argument("--look", type=float, default=1.5, help="s after each change")
    args = parser.parse_args()
    print(f"load average at start: {_load()} (2 cores, shared: times are noisy)")

    print(f"\nKERNEL SIDE (in-process)\n{'control change':36s} {'median s':>9s} {'worst s':>7s}")
    for name, (seconds, cpu) in kernel_rows(max(args.repeats, 15)):
        print(f"{name:36s} {_show(seconds)}  CPU median {statistics.median(cpu):.3f} s")
    nb = nbformat.read(ROOT / "release" / "collective_comms" / "collective_comms.ipynb", 4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    base_s = min(_setup_cell_seconds("import numpy") for _ in range(3))
    cells_s = [_setup_cell_seconds(setup.source) for _ in range(3)]
    print(f"{'setup cell (fresh interpreter)':36s} {statistics.median(cells_s):9.3f} "
          f"{max(cells_s):7.3f}  (import numpy alone {base_s:.2f} s)")  # fmt: skip
    if args.kernel_only:
        return

    rows, setup_s = browser_rows(args.track, args.repeats, args.restarts, args.read, args.look)
    print(f"\nBROWSER (JupyterLab in headless Chromium, {args.track}; from the click or key "
          f"press to the new picture)\n{'control':36s} {'median s':>9s} {'worst s':>7s}  "
          "aim 0.3 s")  # fmt: skip
    for name, seconds in rows:
        print(f"{name:36s} {_show(seconds)}")
    for name, seconds in setup_s.items():
        print(f"{'setup cell, ' + name:36s} {_show(seconds)}  aim 2 s")
    print(f"\nload average at end: {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
