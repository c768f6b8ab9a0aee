from django.contrib import admin

from .models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "amount", "status", "tenant"]
    list_filter = ["status", "tenant"]
