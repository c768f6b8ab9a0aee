"""Tenants, workflows with immutable versions, executions and their node runs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="tenants")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        ADMIN = "admin", "Admin"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant}"


class Workflow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    # Started when one of this workflow's executions ends in error (workflows.engine,
    # `_start_error_workflow`); a workflow of the same tenant.
    error_workflow = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Started with the failed execution's id, workflow, node, error and input when an execution of this workflow fails",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "name"])]

    def __str__(self) -> str:
        return self.name

    def error_workflow_problem(self) -> str | None:
        """Why `error_workflow` may not be this workflow's error workflow, or None."""
        other = self.error_workflow
        if other is None:
            return None
        if other.pk == self.pk:
            return "A workflow cannot be its own error workflow"
        if other.tenant_id != self.tenant_id:
            return "The error workflow must belong to the same tenant"
        # testruns.DRAFT_MARKER (testruns builds on this module): a test run's hidden workflow.
        if other.description.startswith("test-draft-of:") and not other.is_active:
            return "A test draft cannot be an error workflow"
        return None

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        problem = self.error_workflow_problem()
        if problem:
            raise ValidationError({"error_workflow": problem})

    @property
    def latest_version(self) -> WorkflowVersion | None:
        prefetched = getattr(self, "_prefetched_objects_cache", {}).get("versions")
        if prefetched is not None:
            return max(prefetched, key=lambda v: v.number, default=None)
        return self.versions.order_by("-number").first()

    @property
    def definition(self) -> dict | None:
        """The definition of the latest version."""
        latest = self.latest_version
        return latest.definition if latest else None


class WorkflowVersion(models.Model):
    """One saved definition; never changed after it is written. Its id is a UUID, never
    reused, because workers cache the graph of a version by id for the life of the process."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="unique_workflow_version")]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"


class ExecutionStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (ExecutionStatus.SUCCESS, ExecutionStatus.ERROR, ExecutionStatus.CANCELLED)


class Execution(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="executions")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="executions")
    workflow_version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="executions")
    status = models.CharField(max_length=20, choices=ExecutionStatus.choices, default=ExecutionStatus.RUNNING)
    input = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    # Compare-and-swap counter: every write of the context or a status (the execution's or
    # any of its node runs') moves it on (workflows.store.cas_update).
    revision = models.PositiveIntegerField(default=0)
    # How many times the execution was retried from a node: part of each step's idempotency
    # key, so a node run again after a retry is a new effect, and its own attempts are not.
    retry_count = models.PositiveIntegerField(default=0)
    run_as = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    error = models.JSONField(null=True, blank=True)
    parent_execution = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    parent_node_run = models.ForeignKey(
        "NodeRun", null=True, blank=True, on_delete=models.CASCADE, related_name="child_executions"
    )
    parent_index = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    is_test = models.BooleanField(default=False)
    # The failed execution this one handles, when started as its workflow's error workflow.
    # Such executions never start error workflows themselves: no loops, no chains.
    error_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="error_handlers", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="unique_execution_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["workflow", "-created_at"]),
            models.Index(fields=["status"]),
            # Partial: the executions that start normally (all but error handlers) skip it.
            models.Index(fields=["error_of"], condition=Q(error_of__isnull=False), name="execution_error_of_idx"),
            # The executions list filtered by status, newest first, test runs or not (a GIN
            # index on `input` for the input filter is made on PostgreSQL by migration 0007).
            models.Index(fields=["tenant", "status", "-created_at"], name="execution_list_status_idx"),
            # The home page's counts and latest failures of one tenant's production runs:
            # running and paused now, finished (by status) since a moment.
            models.Index(
                fields=["tenant", "status", "finished_at"],
                condition=Q(is_test=False),
                name="execution_tenant_status_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} #{str(self.id)[:8]} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class NodeRunStatus(models.TextChoices):
    IDLE = "idle", "Idle"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


class NodeRun(models.Model):
    """One node of one execution. `running` with no live lease means ready to be claimed."""

    # No index of its own: the unique (execution, node_id) index serves lookups by execution,
    # and every index more is one more write on each update that is not HOT.
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="node_runs", db_index=False)
    node_id = models.CharField(max_length=100)
    node_type = models.CharField(max_length=100)
    label = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=NodeRunStatus.choices, default=NodeRunStatus.IDLE)
    branch = models.CharField(max_length=100, null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    resolved_config = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    pause_data = models.JSONField(null=True, blank=True)
    logs = models.JSONField(default=list, blank=True)
    lease_owner = models.CharField(max_length=100, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    available_at = models.DateTimeField(null=True, blank=True)
    wake_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["execution", "id"]
        constraints = [models.UniqueConstraint(fields=["execution", "node_id"], name="unique_node_run")]
        indexes = [
            models.Index(fields=["available_at"], condition=Q(status="running"), name="noderun_ready_idx"),
            models.Index(fields=["wake_at"], condition=Q(status="paused"), name="noderun_wake_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.status})"


class OperatorActionKind(models.TextChoices):
    CANCEL = "cancel", "Cancel"
    RETRY = "retry", "Retry"
    RUN_AGAIN = "run_again", "Run again"


class OperatorAction(models.Model):
    """What an operator did to an execution, when, and why: an append-only audit record."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="operator_actions")
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="operator_actions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as written: the record still says who after the user is deleted.
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=20, choices=OperatorActionKind.choices)
    reason = models.TextField(blank=True, default="")
    # fromNode, the new execution of a run-again, the bulk operation it was part of.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["execution", "created_at", "id"]
        indexes = [models.Index(fields=["execution", "created_at"])]

    def __str__(self) -> str:
        return f"{self.action} by {self.username}"


class BulkOperationStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class BulkOperation(models.Model):
    """One operator action applied to a filtered set of executions. The set is fixed when the
    operation is made (`execution_ids`); workers act on it in batches and count as they go."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="bulk_operations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=20, choices=OperatorActionKind.choices)
    reason = models.TextField(blank=True, default="")
    filters = models.JSONField(default=dict, blank=True)
    execution_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=BulkOperationStatus.choices, default=BulkOperationStatus.RUNNING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # The first problems met ({executionId, message}), so the operator sees why some failed.
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], condition=Q(status="running"), name="bulkop_running_idx")]

    def __str__(self) -> str:
        return f"{self.action} of {self.total} execution(s) ({self.status})"


class WorkerProcess(models.Model):
    """One worker process as its heartbeats describe it (`workflows.worker`): written when it
    starts, updated every WORKFLOW_HEARTBEAT_SECONDS, marked stopped when it stops cleanly.
    A row whose heartbeat is older than WORKFLOW_WORKER_STALE_SECONDS and that never said it
    stopped belongs to a worker that died or hangs."""

    name = models.CharField(max_length=100, unique=True)  # the lease owner of its node runs
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    version = models.CharField(max_length=50, blank=True, default="")
    embedded = models.BooleanField(default=False)  # runs inside a web process
    concurrency = models.PositiveIntegerField()
    steps_in_flight = models.PositiveIntegerField(default=0)
    steps_done = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField()
    last_heartbeat_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["last_heartbeat_at"], name="workerprocess_heartbeat_idx")]

    def __str__(self) -> str:
        return self.name


# --- Plugins: integrations and triggers -----------------------------------------------


class Integration(models.Model):
    """One user's account with a plugin's service; its credentials are stored encrypted."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="integrations")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="integrations")
    type = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    # Fernet token of the credentials' JSON (workflows/encryption.py); never sent by the API.
    credentials_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "owner", "type"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class ModelEvent(models.TextChoices):
    INSERT = "insert", "Insert"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"


class ModelTrigger(models.Model):
    """Starts a workflow when a row of an exposed data source is inserted, updated or deleted.
    For updates, `field` narrows it to changes of that field, and `value` to changes to that value."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="model_triggers")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="model_triggers")
    datasource = models.CharField(max_length=100)
    event = models.CharField(max_length=10, choices=ModelEvent.choices)
    field = models.CharField(max_length=100, blank=True, default="")
    value = models.JSONField(null=True, blank=True)
    run_as = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["datasource", "event", "id"]
        indexes = [models.Index(fields=["datasource", "event", "tenant"])]

    def __str__(self) -> str:
        return f"{self.datasource} {self.event} -> {self.workflow}"


class Schedule(models.Model):
    """Starts a workflow on a cron schedule; `next_run_at` is claimed by one worker per due time."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="schedules")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="schedules")
    cron = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC")
    input = models.JSONField(default=dict, blank=True)
    run_as = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_execution = models.ForeignKey(Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["next_run_at"]
        indexes = [models.Index(fields=["next_run_at"], condition=Q(is_active=True), name="schedule_due_idx")]

    def __str__(self) -> str:
        return f"{self.workflow} at {self.cron!r}"
