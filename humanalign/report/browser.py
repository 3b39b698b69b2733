"""Check a built report in headless Chromium: broken images, console errors, content wider than the page.

:func:`check_report` opens a copy of ``index.html`` with a small layout probe appended (every
``<details>`` opened, then each image checked for having loaded and fitting the page width, and the
page for horizontal scrolling), reads the probe's verdict from ``--dump-dom``, collects console errors
from Chromium's log, adds the figure-layout findings the builder wrote (``figure_checks.json``:
overlapping text, figures wider than a page), and saves a screenshot of the first screen.

Usage:
    python -m humanalign.report.browser REPORT_DIR      # exit 1 and one line per problem, else 0

Needs the Debian ``chromium`` package (``apt-get install -y chromium``); :func:`find_chromium`
returns None where it is absent.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BrowserCheck", "find_chromium", "check_report", "main"]

logger = logging.getLogger(__name__)

_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files",
          "--no-first-run", "--disable-dev-shm-usage")
_PROBE = """<script>
window.addEventListener('load', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var problems = [], width = document.documentElement.clientWidth;
  document.querySelectorAll('img').forEach(function (img, i) {
    var name = (img.getAttribute('alt') || img.getAttribute('src') || '').slice(0, 70);
    if (!img.complete || img.naturalWidth === 0) { problems.push('broken image ' + i + ': ' + name); }
    var r = img.getBoundingClientRect();
    if (r.right > width + 1) { problems.push('image wider than the page (' + Math.round(r.right) + ' > ' + width + '): ' + name); }
  });
  document.querySelectorAll('figure, .scroll, h1, h2, h3, p').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.right > width + 1) { problems.push(el.tagName.toLowerCase() + ' wider than the page: ' + (el.textContent || '').slice(0, 60)); }
  });
  document.querySelectorAll('td, th').forEach(function (cell) {
    if (cell.scrollWidth > cell.clientWidth + 1) { problems.push('table cell text overflows its cell: ' + (cell.textContent || '').slice(0, 60)); }
  });
  var sw = document.documentElement.scrollWidth;
  if (sw > width + 1) { problems.push('page scrolls sideways (' + sw + ' > ' + width + ' px)'); }
  var out = document.createElement('pre'); out.id = 'layout-probe'; out.textContent = JSON.stringify(problems);
  document.body.appendChild(out);
});
</script>"""


@dataclass
class BrowserCheck:
    """Outcome of :func:`check_report`: problems (empty when clean) and the screenshot path."""

    problems: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _console_errors(log: str) -> list[str]:
    errors = []
    for line in log.splitlines():
        if "CONSOLE" in line and (":ERROR:" in line or "Uncaught" in line or "Failed to load" in line):
            errors.append("console error: " + re.sub(r"^\[[^\]]*\]\s*", "", line).strip()[:200])
    return errors


def check_report(report_dir: str | Path, width: int = 1280, height: int = 2000, timeout: float = 120.0,
                 chromium: str | None = None) -> BrowserCheck:
    """Render ``report_dir/index.html`` in headless Chromium and list what a reader would see broken.

    Args:
        report_dir: Folder with ``index.html`` (and ``figure_checks.json`` from the builder).
        width, height: Window size in CSS pixels (the screenshot's size).
        timeout: Seconds per Chromium run.
        chromium: Executable (default: :func:`find_chromium`).

    Returns:
        The problems found and ``report_dir/screenshot.png``.

    Raises:
        FileNotFoundError: when there is no ``index.html`` or no Chromium.
    """
    folder = Path(report_dir)
    index = folder / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"no report page at {index}")
    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium not found (Debian: apt-get install -y chromium)")
    probe = folder / "_layout_probe.html"
    probe.write_text(index.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    window = f"--window-size={width},{height}"
    try:
        run = subprocess.run([exe, *_FLAGS, window, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
                              "--dump-dom", probe.resolve().as_uri()],
                             capture_output=True, text=True, timeout=timeout)
    finally:
        probe.unlink(missing_ok=True)
    problems = _console_errors(run.stderr)
    match = re.search(r"<pre id=\"layout-probe\">(.*?)</pre>", run.stdout, flags=re.S)
    if match is None:
        problems.append(f"layout probe did not run (chromium exit {run.returncode}): {run.stderr[-300:]}")
    else:
        text = match.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        problems += json.loads(text)
    checks = folder / "figure_checks.json"
    if checks.is_file():
        for name, found in json.loads(checks.read_text()).items():
            problems += [f"figure {name}: {p}" for p in found]
    shot = folder / "screenshot.png"
    subprocess.run([exe, *_FLAGS, window, f"--screenshot={shot.resolve()}", index.resolve().as_uri()],
                   capture_output=True, text=True, timeout=timeout)
    if not shot.is_file():
        problems.append("chromium wrote no screenshot")
    return BrowserCheck(problems, shot if shot.is_file() else None)


def main(argv: list[str] | None = None) -> int:
    """``python -m humanalign.report.browser REPORT_DIR``: print problems; exit 1 if any, 2 if it cannot run."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m humanalign.report.browser REPORT_DIR", file=sys.stderr)
        return 2
    try:
        result = check_report(args[0])
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for problem in result.problems:
        print(problem)
    print(f"screenshot: {result.screenshot}")
    return 1 if result.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
