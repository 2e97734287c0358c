"""Playwright (sync API) driving the system Chromium against pytest-django's live server.

Chromium is never downloaded: the executable comes from CHROMIUM_PATH, else /usr/bin/chromium, else
`chromium` or `google-chrome` on PATH, else (macOS) Chromium.app or Google Chrome.app. Without one
the browser tests are skipped, unless C360_REQUIRE_BROWSER=1 (CI), where a missing browser fails.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in the main thread; Django's ORM (factories in the test
# body) refuses to run beside one unless told it is safe, which it is here: nothing else is async.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

MACOS_APPS = [
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
]


def find_chromium() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH", "").strip()
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    for app in MACOS_APPS:
        if os.access(app, os.X_OK):
            return app
    return None


@pytest.fixture(scope="session")
def chromium_path():
    path = find_chromium()
    if path is None:
        if os.environ.get("CHROMIUM_PATH", "").strip():
            reason = f"CHROMIUM_PATH={os.environ['CHROMIUM_PATH']} is not an executable"
        else:
            reason = "no Chromium found (looked for /usr/bin/chromium, chromium or google-chrome on PATH)"
        if os.environ.get("C360_REQUIRE_BROWSER") == "1":
            pytest.fail(f"C360_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def artifacts_dir() -> Path:
    """Screenshots go to test-artifacts/ at the project root (git-ignored)."""
    path = Path(settings.BASE_DIR) / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
