"""The product's own error pages with DEBUG off (JSON under /api/), the nav's current page,
and the phone header's menu button."""

import pytest
from django.test import Client, override_settings
from django.urls import path

from config import urls as project_urls
from tests.conftest import chain

pytestmark = pytest.mark.django_db


def explode(request):
    raise RuntimeError("a bug deep inside")


# The project's URLs and error handlers, plus views that fail (for the 500 pages).
urlpatterns = [path("boom/", explode), path("api/boom/", explode), *project_urls.urlpatterns]
handler400, handler403, handler404, handler500 = (
    project_urls.handler400,
    project_urls.handler403,
    project_urls.handler404,
    project_urls.handler500,
)

DEBUG_PAGE_MARKERS = (
    "Traceback",
    "Using the URLconf defined in",
    "You're seeing this error because you have <code>DEBUG = True</code>",
)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_branded(answer, status: int, heading: str):
    html = answer.content.decode()
    assert answer.status_code == status
    assert answer["Content-Type"].startswith("text/html")
    assert f'data-error="{status}"' in html and heading in html
    assert '<link rel="stylesheet" href="/static/css/base.css">' in html and "⟳ Workflows" in html
    for marker in DEBUG_PAGE_MARKERS:
        assert marker not in html


@override_settings(DEBUG=False)
def test_a_missing_page_is_the_products_404(user):
    answer = logged_in(user).get("/workflows/not-a-page/")
    assert_branded(answer, 404, "This page does not exist")
    assert "<code>/workflows/not-a-page/</code>" in answer.content.decode()
    assert 'aria-current="true">Workflows' in answer.content.decode()  # the nav still works


@override_settings(DEBUG=False)
def test_an_unknown_object_is_the_products_404(user):
    answer = logged_in(user).get("/workflows/executions/00000000-0000-0000-0000-000000000000/")
    assert_branded(answer, 404, "This page does not exist")


@override_settings(DEBUG=False)
def test_a_forbidden_page_is_the_products_403_with_its_reason(user):
    answer = logged_in(user).get("/workers/")
    assert_branded(answer, 403, "You may not open this page")
    assert "Only operators (staff and tenant admins) may see the workers." in answer.content.decode()


@override_settings(DEBUG=False)
def test_an_expired_form_is_the_products_403(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    answer = client.post("/accounts/tenant/", {"tenant": "x"})
    assert_branded(answer, 403, "This form has expired")


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_a_crash_is_the_products_500_without_a_traceback(user):
    answer = Client(raise_request_exception=False).get("/boom/")
    assert_branded(answer, 500, "Something went wrong on our side")
    assert "a bug deep inside" not in answer.content.decode()


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_under_api_errors_are_json_not_pages(user):
    client = logged_in(user)
    client.raise_request_exception = False
    missing = client.get("/api/no-such-endpoint/")
    assert missing.status_code == 404
    assert (
        missing.json()["code"] == "not_found"
        and missing.json()["message"] == "No API endpoint at /api/no-such-endpoint/"
    )
    crash = client.get("/api/boom/")
    assert crash.status_code == 500 and crash.json()["code"] == "server_error"
    assert "a bug deep inside" not in crash.content.decode()


def nav_links(html: str) -> dict[str, str]:
    """Each main-nav link's label and its aria-current value ("" when not current)."""
    import re

    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    return {
        label: current or ""
        for current, label in (
            (m.group(2), m.group(3))
            for m in re.finditer(r'<a href="([^"]+)"(?: aria-current="(\w+)")?>([^<]+)</a>', nav)
        )
    }


def test_the_nav_marks_the_current_page(user, make_workflow):
    client = logged_in(user)
    assert nav_links(client.get("/workflows/").content.decode())["Workflows"] == "page"
    approvals = nav_links(client.get("/workflows/approvals/").content.decode())
    assert approvals["Approvals"] == "page" and approvals["Workflows"] == ""
    workflow = make_workflow(chain())
    inside = nav_links(client.get(f"/workflows/{workflow.pk}/").content.decode())
    assert inside["Workflows"] == "true" and list(inside.values()).count("") == len(inside) - 1
    home = client.get("/").content.decode()
    assert set(nav_links(home).values()) == {""}
    assert '<a class="brand" href="/" aria-current="page">' in home


def test_operators_get_the_workers_link_marked_on_its_page(make_user):
    staff = make_user("ops", is_staff=True)
    links = nav_links(logged_in(staff).get("/workers/").content.decode())
    assert links["Workers"] == "page" and "Admin" not in links  # the admin admits superusers only
    root = make_user("root", is_staff=True, is_superuser=True)
    assert nav_links(logged_in(root).get("/workers/").content.decode())["Admin"] == ""


def test_the_header_has_a_menu_button_for_phones(user):
    html = logged_in(user).get("/").content.decode()
    assert (
        '<button type="button" class="menu-toggle" aria-expanded="false" aria-controls="topbar-menu" data-menu-toggle>'
        in html
    )
    assert 'id="topbar-menu"' in html and '<script src="/static/js/topbar.js"></script>' in html


def test_an_executions_page_when_installed_gets_a_nav_link_and_the_counts_link_to_it(user, monkeypatch):
    from workflows import navigation, views

    def installed(name):
        return "/workflows/executions/" if name == "workflows:executions" else None

    monkeypatch.setattr(navigation, "url_or_none", installed)
    monkeypatch.setattr(views, "url_or_none", installed)
    home = logged_in(user).get("/").content.decode()
    assert "Executions" in nav_links(home)
    assert '<a href="/workflows/executions/?status=error">Failed</a>' in home
