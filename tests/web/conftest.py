"""Fixtures of the browser tests: Debian's Chromium driven by Playwright (no browser
download: `executable_path` points at /usr/bin/chromium, which `make test` installs with
apt-get when missing), against a platform of its own.

Every page a test opens is checked the same way (`Browser.check`): a screenshot at desktop
and at phone width in var/test-artifacts/web/, no console error, no request to any other
origin (the machine is offline, and the app must work so), and axe-core (from
web/node_modules, injected by the test, never served) finds no serious or critical
violation.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_SOURCE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "var" / "test-artifacts")) / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class RunningPlatform:
    def __init__(self, url: str):
        self.url = url.rstrip("/")


@pytest.fixture(scope="session")
def web_platform(request, make_own_stack):
    """Fresh accounts and metering, and a guest cap per IP that the tests (all from
    127.0.0.1) cannot reach: each browser context is its own guest. WEB_TEST_URL=http://...
    runs the tests against a platform already running instead (while developing)."""
    if not (REPO / "web" / "app" / "vendor" / ".installed").exists():
        pytest.fail("the web app's libraries are not vendored: run `make web`")
    if os.environ.get("WEB_TEST_URL"):
        yield RunningPlatform(os.environ["WEB_TEST_URL"])
        return
    stack = request.getfixturevalue("stack")
    with make_own_stack(
        stack,
        "e2e-web",
        METERING_GUEST_IP_DAILY_CAP="100000",
    ) as own:
        yield own


@pytest.fixture(scope="session")
async def chromium():
    from playwright.async_api import async_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (scripts/ensure-chromium.sh)")
    from playwright.async_api import expect

    # A shared 2-core machine running the whole suite is slow at times: patience, not sleeps.
    expect.set_options(timeout=15_000)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


class Browser:
    """One user's browser (its own cookies), with the checks every page gets."""

    def __init__(self, context, base_url: str):
        self.context = context
        self.base_url = base_url
        self.origin = urlsplit(base_url).netloc
        self.console_errors: list[str] = []
        self.foreign_requests: list[str] = []
        self.page = None

    async def start(self):
        await self.context.route("**/*", self._only_this_origin)
        self.page = await self.context.new_page()
        self.page.on(
            "console",
            lambda message: message.type == "error" and self.console_errors.append(f"{self.page.url}: {message.text}"),
        )
        self.page.on("pageerror", lambda error: self.console_errors.append(f"{self.page.url}: {error}"))
        return self

    async def _only_this_origin(self, route):
        url = route.request.url
        if urlsplit(url).netloc == self.origin or url.startswith(("data:", "blob:")):
            await route.continue_()
        else:  # nothing may leave the machine: the app has to work offline
            self.foreign_requests.append(url)
            await route.abort()

    async def goto(self, path: str):
        await self.page.goto(self.base_url + path)
        return self.page

    async def check(self, name: str, *, axe_exclude: list[str] | None = None) -> None:
        """Screenshots (desktop and phone), no console error, no foreign request, axe clean."""
        page = self.page
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        text = await page.locator("body").inner_text()
        assert not re.search(r"\b(null|undefined|NaN|\[object Object\])\b", text), (
            f"{name} shows a missing value as text: {text[:2000]}"
        )
        await page.set_viewport_size(DESKTOP)
        await page.screenshot(path=ARTIFACTS / f"{name}-desktop.png", full_page=True)
        violations = await axe_violations(page, axe_exclude or [])
        await page.set_viewport_size(PHONE)
        await page.screenshot(path=ARTIFACTS / f"{name}-phone.png", full_page=True)
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        phone_violations = await axe_violations(page, axe_exclude or [])
        await page.set_viewport_size(DESKTOP)
        assert not self.console_errors, f"console errors on {name}: {self.console_errors}"
        assert not self.foreign_requests, f"{name} asked for other origins: {self.foreign_requests}"
        assert not violations, f"axe on {name} (desktop): {violations}"
        assert not phone_violations, f"axe on {name} (phone): {phone_violations}"
        assert overflow <= 1, f"{name} scrolls sideways at phone width ({overflow}px too wide)"


async def axe_violations(page, exclude: list[str]) -> list[str]:
    """axe-core's serious and critical violations, one line each."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (rightly) refuses inline script.
        await page.evaluate(AXE_SOURCE.read_text())
    found = await page.evaluate(
        """async (exclude) => {
        const result = await axe.run({ exclude: exclude.map((selector) => [selector]) },
                                     { resultTypes: ["violations"] });
        return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.id} (${v.impact}): ${v.help} at `
                        + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
    }""",
        exclude,
    )
    return found


@pytest.fixture
async def open_browser(chromium, web_platform):
    """`browser = await open_browser()`: a new user (fresh cookies); closed after the test."""
    contexts = []

    async def open_one() -> Browser:
        context = await chromium.new_context(viewport=DESKTOP, locale="en-US")
        context.set_default_timeout(30_000)
        contexts.append(context)
        return await Browser(context, web_platform.url).start()

    yield open_one
    for context in contexts:
        await context.close()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
