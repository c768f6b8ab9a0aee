"""A minimal business model exposed as a data source (settings.WORKFLOW_DATASOURCES) for the
DataSource nodes, model-event triggers, the demo and the tests."""

from django.db import models


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    tenant = models.ForeignKey("workflows.Tenant", on_delete=models.CASCADE, related_name="demo_orders")
    number = models.CharField(max_length=50)
    customer = models.CharField(max_length=200, blank=True, default="")
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    # Not exposed: workflows may not read or write it.
    internal_note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Order {self.number}"
