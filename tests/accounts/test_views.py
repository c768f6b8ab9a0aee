"""The product's login, logout and password pages, and which pages send anonymous visitors there."""

import re
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from approvals.links import link_path
from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def login_redirect(path: str) -> str:
    return "/accounts/login/?" + urlencode({"next": path}, safe="/")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_product_page_sends_anonymous_visitors_to_the_login_with_next(finance_request):
    execution, request = finance_request
    workflow = execution.workflow
    pages = [
        ("get", "/"),
        ("get", "/workflows/"),
        ("get", f"/workflows/{workflow.pk}/"),
        ("get", "/workflows/examples/embed/"),
        ("get", f"/workflows/executions/{execution.pk}/"),
        ("post", f"/workflows/{workflow.pk}/test-run/"),
        ("post", f"/workflows/executions/{execution.pk}/cancel/"),
        ("post", f"/workflows/executions/{execution.pk}/retry/"),
        ("get", "/workflows/approvals/"),
        ("get", f"/workflows/approvals/{request.pk}"),
        ("get", f"/workflows/approvals/{request.pk}/"),
        ("post", f"/workflows/approvals/{request.pk}/delegate"),
        ("get", "/widgets/"),
        ("get", "/accounts/password_change/"),
    ]
    for method, path in pages:
        answer = getattr(Client(), method)(path)
        assert (answer.status_code, answer["Location"]) == (302, login_redirect(path)), path


def test_a_signed_approval_link_needs_no_login(settings, fiona, finance_request):
    """The one-click link authenticates by its signature; it still asks to confirm with a POST."""
    settings.APPROVALS_EMAIL_LINKS = True
    _, request = finance_request
    answer = Client().get(link_path(request, fiona))
    assert answer.status_code == 200 and "Your decision as fiona" in answer.content.decode()
    assert request.decisions.count() == 0


@pytest.mark.parametrize("path", ["/api/workflows/", "/api/executions/", "/api/approvals/", "/api/executions/events/"])
def test_api_endpoints_answer_json_never_a_redirect(path):
    answer = Client().get(path)
    assert answer.status_code in (401, 403) and not answer.has_header("Location")
    assert answer["Content-Type"].startswith("application/json") and "detail" in answer.json()


def test_a_member_who_is_not_staff_logs_in_and_reaches_the_approvals_inbox(fiona, finance_request):
    client = Client()
    page = client.get(login_redirect("/workflows/approvals/"))
    assert page.status_code == 200 and 'name="next" value="/workflows/approvals/"' in page.content.decode()
    answer = client.post(
        "/accounts/login/", {"username": "fiona", "password": PASSWORD, "next": "/workflows/approvals/"}
    )
    assert (answer.status_code, answer["Location"]) == (302, "/workflows/approvals/")
    inbox = client.get("/workflows/approvals/").content.decode()
    assert "Invoice INV-7" in inbox and "1 waiting for you" in inbox


def test_login_without_next_lands_on_the_home_page(fiona):
    client = Client()
    answer = client.post("/accounts/login/", {"username": "fiona", "password": PASSWORD})
    assert (answer.status_code, answer["Location"]) == (302, "/")
    assert client.get("/").status_code == 200


def test_login_refuses_a_wrong_password_and_an_outside_next(fiona):
    client = Client()
    answer = client.post("/accounts/login/", {"username": "fiona", "password": "wrong"})
    assert answer.status_code == 200 and "correct username and password" in answer.content.decode()
    assert "_auth_user_id" not in client.session
    answer = client.post(
        "/accounts/login/", {"username": "fiona", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert answer["Location"] == "/"


def test_the_admin_login_still_refuses_a_member_who_is_not_staff(fiona):
    client = Client()
    answer = client.post("/admin/login/?next=/admin/", {"username": "fiona", "password": PASSWORD, "next": "/admin/"})
    assert answer.status_code == 200 and "staff account" in answer.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_nav_offers_login_or_the_account_links(fiona, make_user, tenant):
    anonymous = Client().get("/accounts/password_reset/").content.decode()
    assert 'href="/accounts/login/?next=/accounts/password_reset/"' in anonymous and "Log out" not in anonymous
    page = logged_in(fiona).get("/").content.decode()
    assert "fiona" in page and 'href="/accounts/password_change/"' in page
    assert re.search(
        r'<form method="post" action="/accounts/logout/"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"', page
    )
    assert 'href="/admin/"' not in page
    staff = make_user("stan", tenant=tenant, is_staff=True)
    assert 'href="/admin/"' not in logged_in(staff).get("/").content.decode()  # the admin is for superusers
    root = make_user("root", tenant=tenant, is_staff=True, is_superuser=True)
    assert 'href="/admin/"' in logged_in(root).get("/").content.decode()


def test_logout_is_a_post_that_ends_the_session(fiona):
    client = Client()
    client.post("/accounts/login/", {"username": "fiona", "password": PASSWORD})
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/workflows/approvals/").status_code == 200
    answer = client.post("/accounts/logout/")
    assert (answer.status_code, answer["Location"]) == (302, "/accounts/login/")
    assert client.get("/workflows/approvals/")["Location"] == login_redirect("/workflows/approvals/")


def test_logout_needs_the_csrf_token(fiona):
    client = Client(enforce_csrf_checks=True)
    client.force_login(fiona)
    assert client.post("/accounts/logout/").status_code == 403
    assert client.get("/workflows/approvals/").status_code == 200


def test_password_change_keeps_the_session_and_sets_the_new_password(fiona):
    client = logged_in(fiona)
    refused = client.post(
        "/accounts/password_change/",
        {
            "old_password": "not-it",
            "new_password1": "a-new-secret-9",
            "new_password2": "a-new-secret-9",
        },
    )
    assert refused.status_code == 200 and "incorrectly" in refused.content.decode()
    answer = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-secret-9",
            "new_password2": "a-new-secret-9",
        },
    )
    assert (answer.status_code, answer["Location"]) == (302, "/accounts/password_change/done/")
    assert "Password changed" in client.get(answer["Location"]).content.decode()
    fiona.refresh_from_db()
    assert fiona.check_password("a-new-secret-9") and not fiona.check_password(PASSWORD)
    assert client.get("/workflows/approvals/").status_code == 200


def test_password_reset_mails_a_link_on_site_url_that_sets_a_new_password(fiona):
    client = Client()
    answer = client.post("/accounts/password_reset/", {"email": fiona.email})
    assert (answer.status_code, answer["Location"]) == (302, "/accounts/password_reset/done/")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [fiona.email] and "Workflows" in message.subject and not message.alternatives
    base = settings.SITE_URL.rstrip("/")
    link = re.search(rf"{re.escape(base)}(/accounts/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert link, message.body

    form = client.get(link.group(1), follow=True)  # Django swaps the token for a session key
    assert "Choose a new password" in form.content.decode()
    answer = client.post(
        form.redirect_chain[-1][0], {"new_password1": "reset-secret-42", "new_password2": "reset-secret-42"}
    )
    assert (answer.status_code, answer["Location"]) == (302, "/accounts/reset/done/")
    fiona.refresh_from_db()
    assert fiona.check_password("reset-secret-42")
    assert "no longer works" in Client().get(link.group(1), follow=True).content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same():
    answer = Client().post("/accounts/password_reset/", {"email": "nobody@example.com"})
    assert answer["Location"] == "/accounts/password_reset/done/" and mail.outbox == []


def test_a_logged_in_user_opening_the_login_goes_home(fiona):
    assert logged_in(fiona).get("/accounts/login/")["Location"] == "/"
