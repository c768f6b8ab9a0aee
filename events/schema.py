"""OpenAPI description of the workflow API key authentication (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class WorkflowApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "events.authentication.WorkflowApiKeyAuthentication"
    name = "workflowApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "wfb_<prefix>-<secret>-<secret>",
            "description": "A workflow API key (POST /api/api-keys/create)",
        }
