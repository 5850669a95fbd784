"""A real headless Chromium on the dashboard: charts drawn, a purchase shows up live, screenshots."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.scenario import trade

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
NONZERO = re.compile(r"^[1-9]")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(live_server)
    expect(page.locator("#live")).to_have_text("live", timeout=15_000)
    yield page
    context.close()


def test_chart_is_rendered_with_data(page):
    expect(page.locator("#energyChart")).to_have_attribute("data-points", NONZERO, timeout=10_000)
    # Chart.js sets the canvas' pixel size once it has drawn.
    assert page.eval_on_selector("#energyChart", "c => c.width > 0 && Chart.getChart(c).data.datasets[1].data.length")


def test_a_new_purchase_appears_live(page, viewer_admin):
    t = trade(viewer_admin)
    purchase_id = t.events(t.buy(), "BuyEnergy")[0]["purchaseId"]
    expect(page.locator(f"#feed li[data-purchase-id='{purchase_id}']")).to_be_visible(timeout=15_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(600)  # let the debounced totals/tables refresh land in the screenshot
    page.screenshot(path=ARTIFACTS / "viewer-dashboard.png", full_page=True)


def test_phone_layout_has_no_horizontal_scroll(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    page.goto(live_server)
    expect(page.locator("#energyChart")).to_have_attribute("data-points", NONZERO, timeout=10_000)
    expect(page.locator("#usage tbody tr")).to_have_count(1, timeout=10_000)  # tables filled
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "viewer-dashboard-phone.png", full_page=True)
    context.close()
