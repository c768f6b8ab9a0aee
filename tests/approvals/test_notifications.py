"""Approval e-mails with the locmem backend, signed one-click links, reminders and escalation."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from approvals import links, reminders
from approvals.models import ApprovalEvent
from approvals.selectors import eligible_usernames
from tests.conftest import _free_port
from workflows.models import NodeRun

pytestmark = pytest.mark.django_db(transaction=True)

NOTIFY = {
    "title": "Order {{Trigger.orderId}}",
    "description": "Check it",
    "approvers": "bob,carol",
    "sendNotification": "true",
    "emailSubject": "Please approve: {{title}}",
    "contextData": '{"amount": 120, "lines": [1, 2]}',
}


def logs(execution) -> list[str]:
    return [e["message"] for e in NodeRun.objects.get(execution=execution, node_id="approval").logs]


def test_every_eligible_approver_with_an_address_gets_a_mail(start_approval, approvers, make_user, tenant):
    silent = make_user("noaddress", tenant=tenant)
    silent.email = ""
    silent.save()
    _, request = start_approval({**NOTIFY, "approvers": "bob,carol,noaddress"}, input={"orderId": "A-9"})
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@example.com", "carol@example.com"]
    message = mail.outbox[0]
    assert message.subject == "Please approve: Order A-9"
    assert f"http://127.0.0.1:8000/workflows/approvals/{request.pk}" in message.body
    assert "amount: 120" in message.body and "Check it" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert f"/workflows/approvals/{request.pk}" in html and "Order A-9" in html


def test_no_mail_without_send_notification(start_approval, approvers):
    start_approval({"title": "T", "approvers": "bob"})
    assert mail.outbox == []


def test_custom_approval_url_replaces_the_id(start_approval, approvers):
    _, request = start_approval({**NOTIFY, "approvalUrl": "https://intranet.example/approve?r={id}"})
    assert f"https://intranet.example/approve?r={request.pk}" in mail.outbox[0].body


def test_send_failure_is_logged_on_the_node_and_the_workflow_goes_on(start_approval, approvers, settings, worker):
    # A real SMTP backend pointed at a port where nothing listens.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 2
    execution, request = start_approval(NOTIFY)
    assert execution.status == "paused"
    assert any(m.startswith("E-mail (request) to bob failed") for m in logs(execution))
    from approvals import services

    services.decide(request_id=request.pk, user=approvers["bob"], decision="approved")
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success"


def one_click_url(message) -> str:
    line = next(line for line in message.body.splitlines() if "without signing in" in line)
    return line.rsplit(" ", 1)[-1].replace("http://127.0.0.1:8000", "")


def test_one_click_link_shows_the_request_and_decides_only_on_post(start_approval, approvers, settings, worker):
    settings.APPROVALS_EMAIL_LINKS = True
    execution, request = start_approval(NOTIFY)
    bob_mail = next(m for m in mail.outbox if m.to == ["bob@example.com"])
    url = one_click_url(bob_mail)
    client = Client(enforce_csrf_checks=True)
    page = client.get(url)
    assert page.status_code == 200
    assert b"Order A-1" in page.content and b"Your decision as bob" in page.content
    request.refresh_from_db()
    assert request.status == "pending" and request.decisions.count() == 0
    token = page.cookies["csrftoken"].value
    answer = client.post(url, {"decision": "approved", "comment": "ok", "csrfmiddlewaretoken": token})
    assert answer.status_code == 200
    assert b"Your decision was recorded" in answer.content
    decision = request.decisions.get()
    assert (decision.user.username, decision.channel) == ("bob", "email")
    # The request has ended: the link is revoked.
    assert client.get(url).status_code == 403


def test_links_are_bound_to_their_request_and_cannot_be_forged(start_approval, approvers, settings):
    settings.APPROVALS_EMAIL_LINKS = True
    _, first = start_approval({"title": "One", "approvers": "bob"})
    _, second = start_approval({"title": "Two", "approvers": "bob"})
    token = links.make_token(first, approvers["bob"])
    assert Client().get(f"/workflows/approvals/{second.pk}/link/{token}").status_code == 403
    assert Client().get(f"/workflows/approvals/{first.pk}/link/{token}x").status_code == 403
    # A link for a user who is not an approver is refused too.
    carol_token = links.make_token(first, approvers["carol"])
    assert Client().get(f"/workflows/approvals/{first.pk}/link/{carol_token}").status_code == 403


def test_links_are_off_unless_the_setting_allows(start_approval, approvers, settings):
    settings.APPROVALS_EMAIL_LINKS = False
    _, request = start_approval(NOTIFY)
    assert "without signing in" not in mail.outbox[0].body
    token = links.make_token(request, approvers["bob"])
    assert Client().get(f"/workflows/approvals/{request.pk}/link/{token}").status_code == 404


def test_reminders_mail_only_undecided_approvers(start_approval, approvers):
    from approvals import services

    execution, request = start_approval({**NOTIFY, "approvalType": "all", "remindEvery": "1h"})
    services.decide(request_id=request.pk, user=approvers["bob"], decision="approved")
    mail.outbox.clear()
    assert reminders.run_due(timezone.now() + timedelta(minutes=30)) == 0
    assert reminders.run_due(timezone.now() + timedelta(hours=1, seconds=5)) == 1
    assert [m.to for m in mail.outbox] == [["carol@example.com"]]
    assert mail.outbox[0].subject.startswith("Reminder: ")
    request.refresh_from_db()
    assert request.next_reminder_at > timezone.now() + timedelta(hours=1, seconds=5)
    assert any("Reminder sent to 1 approver(s)" in m for m in logs(execution))
    assert request.events.filter(kind=ApprovalEvent.Kind.REMINDED).count() == 1


def test_escalation_adds_approvers_when_nobody_decided(start_approval, approvers, managers):
    execution, request = start_approval(
        {**NOTIFY, "approvers": "bob", "escalateAfter": "2h", "escalateTo": "dave, role:managers"}
    )
    mail.outbox.clear()
    assert reminders.run_due(timezone.now() + timedelta(hours=2, seconds=5)) == 1
    request.refresh_from_db()
    assert eligible_usernames(request) == {"bob", "dave", "erin", "frank"}
    assert sorted(m.to[0] for m in mail.outbox) == ["dave@example.com", "erin@example.com", "frank@example.com"]
    assert all(m.subject.startswith("Escalated: ") for m in mail.outbox)
    assert any(m.startswith("Escalated: nobody decided in time") for m in logs(execution))
    # Done once: the next round does nothing.
    assert reminders.run_due(timezone.now() + timedelta(hours=3)) == 0


def test_no_escalation_once_somebody_decided(start_approval, approvers):
    from approvals import services

    _, request = start_approval(
        {"title": "T", "approvalType": "all", "approvers": "bob,carol", "escalateAfter": "2h", "escalateTo": "dave"}
    )
    services.decide(request_id=request.pk, user=approvers["bob"], decision="approved")
    reminders.run_due(timezone.now() + timedelta(hours=2, seconds=5))
    request.refresh_from_db()
    assert request.escalated_at is not None
    assert "dave" not in eligible_usernames(request)
    assert not request.events.filter(kind=ApprovalEvent.Kind.ESCALATED).exists()


def test_delegation_mails_the_delegate(start_approval, approvers):
    from approvals import services

    _, request = start_approval(NOTIFY)
    mail.outbox.clear()
    services.delegate(request_id=request.pk, user=approvers["bob"], to_username="dave")
    assert [m.to for m in mail.outbox] == [["dave@example.com"]]
    assert mail.outbox[0].subject.startswith("Delegated to you: ")


def test_the_worker_runs_the_reminder_duty():
    from workflows.worker import _load_duties

    assert (reminders.run_due, 30.0) in _load_duties()
