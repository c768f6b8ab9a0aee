"""The password reset page, whose mail links to SITE_URL, and the tenant switch; the other
account pages are Django's views as they are."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from workflows.tenancy import switch_tenant


class PasswordResetView(auth_views.PasswordResetView):
    """Reset mails link to SITE_URL like the product's other mails, never to a Host header."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"

    @property  # read per request: Django's view reads the attribute when it sends
    def extra_email_context(self) -> dict:  # type: ignore[override]
        return {"site_url": settings.SITE_URL.rstrip("/")}


@login_required
@require_POST
def switch_active_tenant(request: HttpRequest) -> HttpResponse:
    """Act in another of your tenants, then return to the page the switcher was on."""
    if switch_tenant(request, request.POST.get("tenant")) is None:
        raise Http404("Not a tenant of yours")
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = resolve_url(settings.LOGIN_REDIRECT_URL)
    return redirect(target)
