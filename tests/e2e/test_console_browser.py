"""The console in headless Chromium: demo data, ``meterseal user add``, ``meterseal console``.

A small demo fills a data directory (meters, a day of signed readings, the ledger); an
admin is added with the command line; ``meterseal console`` serves it on 127.0.0.1 (any
free port, plain HTTP with ``--insecure-http``, the loopback demo setting). Chromium then
logs in and opens the fleet page, a meter page with its chart and the ledger page, at a
desktop size and at a 390-pixel phone width, where nothing may scroll sideways.
Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

MAIN = [sys.executable, "-m", "meterseal.cli.main"]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"  # noqa: S105 - the test account's password
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


def _run(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [*MAIN, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``meterseal console`` over a demo's data directory, with an admin account."""
    data = tmp_path_factory.mktemp("console-e2e")
    _run("demo", "--meters", "6", "--days", "1", "--data-dir", str(data))
    _run(
        "user",
        "add",
        "admin",
        "--role",
        "admin",
        "--password-stdin",
        "--data-dir",
        str(data),
        stdin=PASSWORD + "\n",
    )
    process = subprocess.Popen(
        [*MAIN, "console", "--data-dir", str(data), "--listen", "127.0.0.1:0", "--insecure-http"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.fullmatch(r"console: (http://127\.0\.0\.1:\d+/)\n", line)
    assert match is not None, f"unexpected first line {line!r}"
    try:
        yield match.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


@pytest.mark.parametrize("size", sorted(SIZES))
def test_login_fleet_meter_and_ledger_pages(console_url: str, size: str) -> None:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only when Chromium is there

    width, height = SIZES[size]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text))

            def no_sideways_scroll() -> None:
                if size == "phone":
                    scroll = page.evaluate("document.documentElement.scrollWidth")
                    assert scroll <= width, f"{page.url} scrolls sideways: {scroll} px"

            page.goto(console_url + "login")
            page.fill("input[name=name]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(console_url)
            assert page.locator("h1").inner_text() == "Fleet"
            assert page.locator("#meters tbody tr").count() == 6
            no_sideways_scroll()
            page.screenshot(path=SCREENSHOTS / f"fleet-{size}.png", full_page=True)

            page.locator("#meters tbody a").first.click()
            page.wait_for_selector("svg.chart")
            bars = page.locator("#consumption rect.bar")
            assert bars.count() >= 1
            values = [int(v) for v in bars.evaluate_all("els => els.map(e => e.dataset.value)")]
            assert all(value >= 0 for value in values)
            points = page.locator("#profile polyline.line").get_attribute("data-count")
            assert points is not None
            assert int(points) >= 90  # a day of quarter-hours
            box = page.locator("#consumption svg").bounding_box()
            assert box is not None
            assert box["width"] <= width
            no_sideways_scroll()
            page.screenshot(path=SCREENSHOTS / f"meter-{size}.png", full_page=True)

            page.click("a[href='/ledger']")
            page.wait_for_selector("#checkpoint")
            assert int(page.locator("#tree-size").inner_text()) >= 6
            no_sideways_scroll()
            page.screenshot(path=SCREENSHOTS / f"ledger-{size}.png", full_page=True)
            assert errors == []  # no CSP violation or script error reported by the page
        finally:
            browser.close()
