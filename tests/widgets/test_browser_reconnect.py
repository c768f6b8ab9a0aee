"""The browser client when the server drops its socket: it keeps its data, reconnects with
backoff once a server listens again, re-subscribes, and finishes the run."""

from __future__ import annotations

import pytest
from django.test import Client

import tests.conftest as shared
from widgets.demo import create_demo
from workflows.models import Execution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CHART = '.widget-card[data-type="vega-lite"]'


def test_page_keeps_its_data_when_the_server_drops_the_socket_and_resubscribes(
    django_db_setup, browser, user, tenant, monkeypatch, artifacts_dir
):
    create_demo(tenant=tenant, user=user, pause="2s")
    server = shared.start_daphne()
    port = int(server.url.rsplit(":", 1)[1])
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}])
    page = context.new_page()
    try:
        page.goto(server.url + "/widgets/")
        page.wait_for_function("() => window.widgetSocket.state === 'connected'")
        page.locator(f"{CHART} .run-widget").click()
        page.wait_for_function(
            f"() => Number(document.querySelector('{CHART}').dataset.chartRendered || 0) >= 2", timeout=20_000
        )
        before = int(page.locator(CHART).get_attribute("data-chart-rendered"))
        instance = page.locator(CHART).get_attribute("data-instance")

        shared.stop_daphne(server)  # the server closes every socket as it goes
        page.wait_for_function(f"() => document.querySelector('{CHART}').dataset.connection !== 'connected'")
        page.wait_for_function("() => window.widgetSocket.attempts >= 2", timeout=20_000)
        card = page.locator(CHART)
        assert int(card.get_attribute("data-chart-rendered")) == before
        assert page.locator(f"{CHART} svg .mark-rect path").count() == before
        assert card.get_attribute("data-status") == "PENDING"
        page.locator(f"{CHART} .widget-dev summary").click()
        assert "Connection lost; reconnecting" in page.locator(f"{CHART} .widget-logs").text_content()
        page.screenshot(path=str(artifacts_dir / "widgets-socket-dropped.png"), full_page=True)

        monkeypatch.setattr(shared, "_free_port", lambda: port)
        server = shared.start_daphne()  # same address: the client finds it again
        page.wait_for_function(
            f"() => document.querySelector('{CHART}').dataset.status === 'COMPLETED'", timeout=40_000
        )
        assert card.get_attribute("data-chart-rendered") == "4"
        assert card.get_attribute("data-instance") == instance
        assert Execution.objects.get(pk=instance).status == "success"
        logs = page.locator(f"{CHART} .widget-logs").text_content()
        assert logs.count(f"Subscribed to {instance}") == 2
    finally:
        context.close()
        shared.stop_daphne(server)
