"""The dashboard and its WidgetRun client in headless Chromium against a real daphne server."""

from __future__ import annotations

import time

import pytest

from widgets.demo import create_demo
from workflows.models import Execution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CHART = '.widget-card[data-type="vega-lite"]'

RECORD_POINTS = """(selector) => {
  window.__seen = [];
  const card = document.querySelector(selector);
  new MutationObserver(() => {
    const n = card.dataset.chartRendered;
    if (n && window.__seen[window.__seen.length - 1] !== n) window.__seen.push(n);
  }).observe(card, { attributes: true, attributeFilter: ["data-chart-rendered"] });
}"""


def test_a_live_chart_updates_as_nodes_complete(daphne_server, logged_in_page, user, tenant, artifacts_dir):
    create_demo(tenant=tenant, user=user, pause="1s")
    page = logged_in_page(user)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(daphne_server.url + "/widgets/")
    assert page.locator(".widget-card").count() == 4
    page.wait_for_function("() => window.widgetSocket && window.widgetSocket.state === 'connected'")
    page.evaluate(RECORD_POINTS, CHART)
    page.locator(f"{CHART} .run-widget").click()
    page.wait_for_function(f"() => document.querySelector('{CHART}').dataset.status === 'COMPLETED'", timeout=30_000)
    page.wait_for_function(f"() => document.querySelector('{CHART}').dataset.chartRendered === '4'")
    seen = page.evaluate("window.__seen")
    # The chart was drawn with 1, 2, 3 and then 4 bars: it grew while the execution ran.
    assert seen[-1] == "4" and len(seen) >= 3, seen
    assert page.locator(f"{CHART} svg .mark-rect path").count() == 4
    assert page.locator(f"{CHART} .widget-status").text_content() == "Completed"
    instance = page.locator(CHART).get_attribute("data-instance")
    assert Execution.objects.get(pk=instance).status == "success"
    page.locator(f"{CHART} .widget-dev summary").click()
    logs = page.locator(f"{CHART} .widget-logs").text_content()
    assert "W4: success" in logs and "Finished: COMPLETED" in logs
    page.screenshot(path=str(artifacts_dir / "widgets-dashboard-live.png"), full_page=True)
    assert not errors


def test_the_dashboard_shows_the_last_data_before_running(daphne_server, logged_in_page, user, tenant, make_user):
    widgets = create_demo(tenant=tenant, user=user, pause="0s")
    from workflows.services import trigger_workflow

    started = trigger_workflow(workflow_id=widgets[0].workflow_id, user_name=user.username, input={"region": "East"})
    import time

    deadline = time.monotonic() + 20
    while Execution.objects.get(pk=started.execution_id).status != "success":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    page = logged_in_page(user)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(daphne_server.url + "/widgets/")
    page.wait_for_function(f"() => document.querySelector('{CHART}').dataset.chartRendered === '4'")
    metric = page.locator('.widget-card[data-type="metric"] .widget-body')
    assert "160" in metric.text_content() and "up" in metric.text_content()
    assert page.locator('.widget-card[data-type="table"] tbody tr').count() == 4
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # readable on a phone
    text = page.locator('.widget-card[data-type="text"] .widget-body')
    assert text.locator("strong").text_content() == "East"
    # Another tenant's user sees none of these widgets.
    stranger = make_user("stranger", tenant=None)
    other = logged_in_page(stranger)
    other.goto(daphne_server.url + "/widgets/")
    assert other.locator(".widget-card").count() == 0


def test_stop_on_the_dashboard_keeps_the_chart_and_ignores_the_rest_of_the_run(
    daphne_server, logged_in_page, user, tenant
):
    create_demo(tenant=tenant, user=user, pause="1s")
    page = logged_in_page(user)
    page.goto(daphne_server.url + "/widgets/")
    page.wait_for_function("() => window.widgetSocket && window.widgetSocket.state === 'connected'")
    stop = page.locator(f"{CHART} .stop-widget")
    assert stop.is_disabled()
    page.locator(f"{CHART} .run-widget").click()
    page.wait_for_function(f"() => document.querySelector('{CHART}').dataset.chartRendered === '1'", timeout=20_000)
    stop.click()
    assert stop.is_disabled()
    card = page.locator(CHART)
    drawn = card.get_attribute("data-chart-rendered")
    assert page.locator(f"{CHART} .widget-status").text_content() == "Idle"
    instance = card.get_attribute("data-instance")
    deadline = time.monotonic() + 20
    while Execution.objects.get(pk=instance).status != "success":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    page.wait_for_timeout(500)
    assert drawn != "4" and card.get_attribute("data-chart-rendered") == drawn  # the run went on, the card did not
    assert page.locator(f"{CHART} .widget-status").text_content() == "Idle"
    assert f"Stopped following {instance}" in page.locator(f"{CHART} .widget-logs").text_content()
