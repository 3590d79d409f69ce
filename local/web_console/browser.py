"""A headless Chromium for the browser tier and ``make screenshot``, set up as ``make test``
sets up everything else: a Chromium or Chrome already on the machine; where there is none,
Debian's ``chromium`` with apt-get when running as root (as CI does), else Playwright's own
download (which needs internet). Where neither works, one line says what to install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# --headless is Playwright's own (headless=True); the rest keep Chromium off the network
# and out of first-run work, and --no-sandbox lets it run as root on CI.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_TIMEOUT_SECONDS = 900
WHAT_TO_INSTALL = (
    "no Chromium or Chrome found and none could be installed: install Debian's `chromium` "
    "(apt-get install -y chromium, as root) or run `.venv/bin/python -m playwright install chromium` "
    "with internet access"
)


class BrowserUnavailableError(Exception):
    """No browser on the machine, and none could be installed; the message says what to do."""


def installed_browser() -> str | None:
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_quietly(argv: list[str]) -> bool:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _playwright_browser_ready() -> bool:
    with sync_playwright() as playwright:
        return Path(playwright.chromium.executable_path).exists()


def ensure_browser() -> str | None:
    """The executable to launch, or None for Playwright's own Chromium; installs one if needed."""
    found = installed_browser()
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        apt = ["apt-get", "-q", "-y"]
        if (
            _run_quietly([*apt, "update"])
            and subprocess.run(
                [*apt, "install", "--no-install-recommends", "chromium"],
                capture_output=True,
                env=environment,
                check=False,
            ).returncode
            == 0
        ):
            found = installed_browser()
            if found:
                return found
    if _playwright_browser_ready() or _run_quietly(
        [sys.executable, "-m", "playwright", "install", "chromium"]
    ):
        return None
    raise BrowserUnavailableError(WHAT_TO_INSTALL)


@contextlib.contextmanager
def headless_chromium(
    executable: str | None, viewport: tuple[int, int] = (1280, 900)
) -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh profile (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="dofs-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_FLAGS),
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            yield context
        finally:
            context.close()
