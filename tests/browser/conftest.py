"""The browser tier: the local console in headless Chromium, against one local stack.

The stack fails every fulfillment at the first attempt (success rate 0, one receive), so
orders reach a final failure in seconds and redrive has something to move.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from local.pulumi_runner import PROJECT_ROOT
from local.web_console.browser import BrowserUnavailableError, ensure_browser, headless_chromium
from tests.integration.stack_process import FAST_RETRIES, StackProcess

SCREENSHOTS = PROJECT_ROOT / "build" / "screenshots"
FAILING_FAST = {**FAST_RETRIES, "dofs:fulfillmentSuccessRate": "0", "dofs:maxReceiveCount": "1"}


@pytest.fixture(scope="session")
def browser_executable() -> str | None:
    """Set up as make test sets up everything: never skipped; one line when impossible."""
    try:
        return ensure_browser()
    except BrowserUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def failing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    stack = StackProcess(tmp_path_factory.mktemp("stack"), FAILING_FAST).start()
    yield stack
    assert stack.stop() == 0, stack.console


@pytest.fixture(scope="session")
def browser(browser_executable: str | None) -> Iterator[BrowserContext]:
    with headless_chromium(browser_executable) as context:
        yield context


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def page(
    browser: BrowserContext,
    failing_stack: StackProcess,
    console_errors: list[str],
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    """The console, loaded; its console errors collected, a screenshot saved afterwards."""
    page = browser.new_page()
    page.on(
        "console", lambda message: console_errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.goto(failing_stack.outputs["console_url"])
    page.wait_for_selector("body[data-loaded]")
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=Path(SCREENSHOTS, f"{request.node.name}.png"), full_page=True)
    page.close()
