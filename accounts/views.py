"""The password reset page, whose mail links to SITE_URL; the other pages are Django's views as they are."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views


class PasswordResetView(auth_views.PasswordResetView):
    """Reset mails link to SITE_URL like the product's other mails, never to a Host header."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"

    @property
    def extra_email_context(self) -> dict:
        return {"site_url": settings.SITE_URL.rstrip("/")}
