"""REST views for workflows and executions: declarations that call services."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .. import editor, operations, services, stats, testruns
from ..diff import diff_definitions
from ..exceptions import InvalidState, UserNotInTenant, WorkflowNotFound
from ..filters import ORDERINGS, ExecutionFilter
from ..models import Tenant
from ..selectors import executions_for, tenant_ids_for, workflows_for
from ..tenancy import active_tenant
from .pagination import ExecutionCursorPagination
from .serializers import (
    CancelSerializer,
    DefinitionRequestSerializer,
    DiffQuerySerializer,
    DiffSerializer,
    ErrorSerializer,
    ExecutionDetailSerializer,
    ExecutionSerializer,
    ExportDocumentSerializer,
    LayoutResultSerializer,
    RestoreSerializer,
    RetrySerializer,
    RunAgainSerializer,
    RunFromHereSerializer,
    StaleVersionErrorSerializer,
    TestRunSerializer,
    TriggerResultSerializer,
    TriggerSerializer,
    ValidateRequestSerializer,
    ValidationResultSerializer,
    VersionDetailSerializer,
    VersionSerializer,
    WorkflowSerializer,
    WorkflowStatsSerializer,
    WorkflowUpdateSerializer,
)


def choose_tenant(request, requested) -> Tenant:
    """The tenant a new object goes to: the one asked for, the user's only tenant, or for a
    browser session of a member of several, the tenant its pages act in."""
    tenant_ids = tenant_ids_for(request.user)
    if requested is not None:
        if requested not in tenant_ids:
            raise ValidationError({"tenant": ["not a tenant you belong to"]})
        return Tenant.objects.get(pk=requested)
    if len(tenant_ids) == 1:
        return Tenant.objects.get(pk=tenant_ids[0])
    # Scripts (token, API key) must say which tenant; only a session has an active one.
    if isinstance(request.successful_authenticator, SessionAuthentication) and len(tenant_ids) > 1:
        tenant = active_tenant(request)
        if tenant is not None:
            return tenant
    raise ValidationError({"tenant": [f"required: you belong to {len(tenant_ids)} tenants"]})


class WorkflowViewSet(viewsets.ModelViewSet):
    """Workflows of your tenants; every definition change is saved as a new version."""

    serializer_class = WorkflowSerializer
    lookup_value_converter = "uuid"

    def get_queryset(self):
        qs = workflows_for(self.request.user).prefetch_related("versions")
        if self.action == "list":  # test-run drafts stay reachable by id, out of the list
            qs = qs.exclude(testruns.drafts_filter())
        return qs

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return WorkflowUpdateSerializer
        if self.action == "trigger":
            return TriggerSerializer
        if self.action == "test_run":
            return TestRunSerializer
        return WorkflowSerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        tenant = choose_tenant(self.request, data.get("tenant_id"))
        serializer.instance = services.create_workflow(
            tenant=tenant,
            name=data["name"],
            description=data.get("description", ""),
            is_active=data.get("is_active", True),
            definition=data["definition"],
            user=self.request.user,
            error_workflow_id=data.get("error_workflow_id"),
        )

    @extend_schema(responses={200: WorkflowSerializer, 400: ErrorSerializer, 409: StaleVersionErrorSerializer})
    def update(self, request, *args, **kwargs):
        """Change the workflow; a changed definition becomes a new version. Give `baseVersion`
        (the version you started from) and a save over someone else's newer version answers
        409 naming who saved it and when; save again with that number to overwrite it."""
        return super().update(request, *args, **kwargs)

    @extend_schema(responses={200: WorkflowSerializer, 400: ErrorSerializer, 409: StaleVersionErrorSerializer})
    def partial_update(self, request, *args, **kwargs):
        """As PUT, with only the fields given."""
        return super().partial_update(request, *args, **kwargs)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "tenant_id" in data and data.pop("tenant_id") != serializer.instance.tenant_id:
            raise ValidationError({"tenant": ["a workflow cannot move to another tenant"]})
        serializer.instance = services.update_workflow(
            serializer.instance,
            user=self.request.user,
            definition=data.pop("definition", None),
            base_version=data.pop("baseVersion", None),
            **data,
        )

    def perform_destroy(self, instance):
        # Executions keep their version (the record of what ran), so a workflow that has run is
        # deactivated rather than deleted.
        runs = instance.executions.count()
        if runs:
            raise InvalidState(
                f"Workflow has {runs} execution(s); deactivate it with isActive=false instead", field="id"
            )
        instance.delete()

    @extend_schema(request=TriggerSerializer, responses={202: TriggerResultSerializer})
    @action(detail=True, methods=["post"])
    def trigger(self, request, pk=None):
        """Start an execution: 202 with its id; the workflow runs in the background."""
        body = TriggerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            # The start reads the workflow and checks the caller's membership in one query:
            # a workflow of a tenant the caller is not in is not theirs to see (404).
            result = services.trigger_workflow(
                workflow_id=pk,
                user_name=request.user.get_username(),
                input=data.get("input") or {},
                version=data.get("version"),
                idempotency_key=data.get("idempotencyKey"),
            )
        except UserNotInTenant:
            raise WorkflowNotFound(pk) from None
        return Response(
            {"executionId": str(result.execution_id), "status": result.status}, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=TestRunSerializer, responses={202: TriggerResultSerializer})
    @action(detail=True, methods=["post"], url_path="test-run")
    def test_run(self, request, pk=None):
        """Start a test run of the latest version, or of an unsaved `definition`: 202 with its id."""
        body = TestRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        execution = testruns.start_test_run(
            workflow=self.get_object(),
            user=request.user,
            input=body.validated_data.get("input") or {},
            definition=body.validated_data.get("definition"),
        )
        return Response({"executionId": str(execution.pk), "status": execution.status}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: WorkflowStatsSerializer})
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        """Health of production runs for the last 15 minutes, hour and day (aggregate queries)."""
        return Response(stats.workflow_health(self.get_object().pk))

    # --- The editor: checks, layout, versions, diffs ----------------------------------------

    @extend_schema(request=ValidateRequestSerializer, responses={200: ValidationResultSerializer, 400: ErrorSerializer})
    @action(detail=False, methods=["post"])
    def validate(self, request):
        """Check a definition without saving it: every problem as {nodeId, field, message}
        (`valid` is false when there are errors), templates naming a node that does not run
        before theirs (`warnings`), and what each node's templates may name (`scopes`,
        `inputFields`). With `text` (an imported file) the JSON is read first: malformed
        JSON is one error saying where."""
        body = ValidateRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = editor.read_import(data["text"]) if "text" in data else editor.check(data["definition"])
        return Response(ValidationResultSerializer({**result.__dict__, "valid": result.valid}).data)

    @extend_schema(request=DefinitionRequestSerializer, responses={200: LayoutResultSerializer, 400: ErrorSerializer})
    @action(detail=False, methods=["post"])
    def layout(self, request):
        """The server's automatic layout of a definition (left to right by depth from the
        trigger), ignoring its saved positions."""
        body = DefinitionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        placed = editor.auto_layout(body.validated_data["definition"])
        return Response(LayoutResultSerializer(placed).data)

    def _version(self, number):
        return get_object_or_404(self.get_object().versions.select_related("created_by"), number=number)

    @extend_schema(request=None, responses={200: VersionSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, pk=None):
        """Every saved version, newest first, with who saved it and when."""
        versions = self.get_object().versions.select_related("created_by").order_by("-number")
        return Response(VersionSerializer(versions, many=True).data)

    @extend_schema(request=None, responses={200: VersionDetailSerializer, 404: ErrorSerializer})
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)")
    def version(self, request, pk=None, number=None):
        """One version with its definition (versions never change)."""
        return Response(VersionDetailSerializer(self._version(number)).data)

    @extend_schema(request=None, responses={200: ExportDocumentSerializer, 404: ErrorSerializer})
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)/export")
    def export(self, request, pk=None, number=None):
        """The version as the file `export_workflow` writes and the editor's import reads."""
        version = self._version(number)
        workflow = self.get_object()
        response = Response(ExportDocumentSerializer(editor.export_document(workflow, version)).data)
        response["Content-Disposition"] = f'attachment; filename="workflow-{workflow.pk}-v{version.number}.json"'
        return response

    @extend_schema(
        request=RestoreSerializer,
        responses={
            201: WorkflowSerializer,
            200: WorkflowSerializer,
            409: StaleVersionErrorSerializer,
            404: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>[0-9]+)/restore")
    def restore(self, request, pk=None, number=None):
        """Save the version's definition as a new version (201); 200 when it already is the
        latest. `baseVersion` guards against a newer save, as for PUT."""
        workflow = self.get_object()
        version = self._version(number)
        body = RestoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = services.restore_version(
            workflow, number=version.number, user=request.user, base_version=body.validated_data.get("baseVersion")
        )
        workflow = self.get_queryset().get(pk=workflow.pk)
        return Response(
            WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        request=None,
        responses={200: DiffSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        parameters=[
            OpenApiParameter("from", int, required=True, description="Version number to compare from"),
            OpenApiParameter("to", int, required=True, description="Version number to compare to"),
        ],
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        """What version `to` adds, removes and changes compared with version `from`: nodes,
        edges, and each changed config field with its values before and after."""
        query = DiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        before, after = self._version(query.validated_data["from"]), self._version(query.validated_data["to"])
        result = diff_definitions(before.definition, after.definition).as_dict()
        return Response(DiffSerializer({**result, "fromVersion": before.number, "toVersion": after.number}).data)


# The columns a list row shows, and no others: an execution's input and context and its
# version's definition can each be large, and a page reads fifty rows (a third of the time
# of a first page at a million executions went to columns it never showed).
LIST_COLUMNS = (
    "id",
    "tenant_id",
    "workflow_id",
    "workflow__name",
    "workflow_version__number",
    "status",
    "run_as__username",
    "is_test",
    "parent_execution_id",
    "idempotency_key",
    "error",
    "created_at",
    "started_at",
    "finished_at",
)

ORDERING_PARAMETER = OpenApiParameter(
    "ordering", str, enum=list(ORDERINGS), description="-createdAt (newest first, the default) or createdAt"
)


@extend_schema_view(list=extend_schema(parameters=[ORDERING_PARAMETER]))
class ExecutionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Executions of your tenants, newest first, filtered (workflows/filters.py), with cancel,
    retry and run again; each of those is recorded as an operator action."""

    lookup_value_converter = "uuid"
    filter_backends = [DjangoFilterBackend]
    filterset_class = ExecutionFilter
    pagination_class = ExecutionCursorPagination

    def get_serializer_class(self):
        if self.action == "retrieve":
            return ExecutionDetailSerializer
        if self.action == "retry":
            return RetrySerializer
        if self.action == "run_from_here":
            return RunFromHereSerializer
        if self.action == "cancel":
            return CancelSerializer
        if self.action == "run_again":
            return RunAgainSerializer
        return ExecutionSerializer

    def get_queryset(self):
        qs = executions_for(self.request.user).select_related("workflow", "workflow_version", "run_as")
        if self.action == "retrieve":
            return qs.prefetch_related("node_runs")
        if self.action == "list":
            return qs.only(*LIST_COLUMNS)
        return qs

    def filter_queryset(self, queryset):
        # The filters select a list; one execution is found by its id alone (a test run
        # too, which the list leaves out by default).
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(request=CancelSerializer, responses={200: ExecutionSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a running or paused execution: its pending and paused nodes stop. The
        `reason` is kept with who and when, and shown in the viewer."""
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        execution = operations.cancel(
            self.get_object(), user=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(ExecutionSerializer(execution).data)

    @extend_schema(
        request=RunAgainSerializer,
        responses={202: TriggerResultSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], url_path="run-again")
    def run_again(self, request, pk=None):
        """Start a new execution of the same workflow with the same input (or `input`, an
        edited copy) on the same version (or `version`), run as you: 202 with its id."""
        execution = self.get_object()
        body = RunAgainSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        copy = operations.run_again(
            execution,
            user=request.user,
            input=data.get("input"),
            version=data.get("version"),
            reason=data.get("reason", ""),
        )
        return Response(
            TriggerResultSerializer({"executionId": copy.pk, "status": copy.status}).data,
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=RunFromHereSerializer,
        responses={202: TriggerResultSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], url_path="run-from-here")
    def run_from_here(self, request, pk=None):
        """Run a finished test run again from `nodeId` on a copy (a new test run), keeping the
        outputs of the nodes before it; optionally on an unsaved `definition`. The run itself
        is left as it was; production executions are refused."""
        execution = self.get_object()
        body = RunFromHereSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        copy = testruns.run_from_here(
            execution=execution,
            node_id=body.validated_data["nodeId"],
            user=request.user,
            definition=body.validated_data.get("definition"),
        )
        return Response(
            TriggerResultSerializer({"executionId": copy.pk, "status": copy.status}).data,
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=RetrySerializer, responses={202: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Run again from the failed node (or `fromNode`), keeping the outputs before it."""
        execution = self.get_object()
        body = RetrySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        execution = operations.retry(
            execution,
            user=request.user,
            from_node=body.validated_data.get("fromNode"),
            version=body.validated_data.get("version"),
            reason=body.validated_data.get("reason", ""),
        )
        execution.refresh_from_db()
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_202_ACCEPTED)
