"""The admin site admits superusers only.

Its pages read and change every tenant's rows (execution contexts, credentials, keys), so a
tenant's staff would see other tenants' data; they work in the product's pages and API,
which are scoped to their tenants.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class SuperuserAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser


class SuperuserAdminConfig(AdminConfig):
    default_site = "config.admin.SuperuserAdminSite"
