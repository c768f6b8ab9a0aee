"""The dashboard page, the admin pages and the demo loader."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

from widgets.demo import WEEKS, create_demo, ensure_widget_demo
from widgets.models import Widget
from workflows.models import Membership, Workflow

pytestmark = pytest.mark.django_db


def test_dashboard_needs_a_login():
    response = Client().get("/widgets/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_dashboard_lists_only_your_tenants_widgets(user, tenant, other_tenant, make_user):
    create_demo(tenant=tenant, user=user)
    create_demo(tenant=other_tenant)
    client = Client()
    client.force_login(user)
    response = client.get("/widgets/")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="widget-card"') == 4
    # Every script and stylesheet is served by the project: no absolute or scheme-relative URL
    # (a bare "cdn" test also matched the page's random CSRF token now and then).
    assert "widgets/vendor/vega-embed.min.js" in body
    assert not re.search(r'(?:src|href)="(?:https?:)?//', body)
    assert str(Widget.objects.filter(tenant=other_tenant).first().pk) not in body


def test_vendored_chart_libraries_and_their_licences_are_static_files():
    from django.contrib.staticfiles import finders

    for name in (
        "vega.min.js",
        "vega-lite.min.js",
        "vega-embed.min.js",
        "LICENSE-vega",
        "LICENSE-vega-lite",
        "LICENSE-vega-embed",
        "THIRD-PARTY-LICENSES",
    ):
        assert finders.find(f"widgets/vendor/{name}"), name
    assert finders.find("widgets/widget-run.js") and finders.find("widgets/dashboard.js")


def test_admin_pages_render(make_user, tenant, user):
    create_demo(tenant=tenant, user=user)
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    widget = Widget.objects.first()
    for url in (
        "/admin/widgets/widget/",
        f"/admin/widgets/widget/{widget.pk}/change/",
        "/admin/widgets/widgetconnection/",
    ):
        assert client.get(url).status_code == 200, url


def test_demo_is_idempotent_and_hooks_into_the_seed(tenant, user, monkeypatch):
    first = ensure_widget_demo(tenant=tenant, user=user)
    again = ensure_widget_demo(tenant=tenant, user=user)
    assert [w.pk for w in first] == [w.pk for w in again]
    assert sorted(w.widget_type for w in first) == ["metric", "table", "text", "vega-lite"]
    workflow = first[0].workflow
    assert [n["label"] for n in workflow.latest_version.definition["nodes"] if n["type"] == "set"] == [
        w for w, _ in WEEKS
    ]

    from workflows.management.commands import seed_demo

    monkeypatch.setattr(seed_demo, "DEMO_LOADERS", [*seed_demo.DEMO_LOADERS, "widgets.demo.ensure_widget_demo"])
    call_command("seed_demo")
    assert Workflow.objects.filter(tenant__slug="demo", name="Weekly sales (widget demo)").count() == 1
    assert Widget.objects.filter(tenant__slug="demo").count() == 4


def test_dashboard_lists_the_active_tenants_widgets(user, tenant, make_tenant):
    second = make_tenant("Aardvark")
    Membership.objects.create(tenant=second, user=user)
    create_demo(tenant=tenant, user=user)
    create_demo(tenant=second, user=user)
    client = Client()
    client.force_login(user)
    body = client.get("/widgets/").content.decode()
    assert body.count('class="widget-card"') == 4
    assert all(str(w.pk) in body for w in Widget.objects.filter(tenant=second))
    assert not any(str(w.pk) in body for w in Widget.objects.filter(tenant=tenant))
    client.post("/accounts/tenant/", {"tenant": str(tenant.pk)})
    body = client.get("/widgets/").content.decode()
    assert all(str(w.pk) in body for w in Widget.objects.filter(tenant=tenant))
    assert f'"tenantID": "{tenant.pk}"' in body
