"""The SMS integration: `sms/send` posts a message to the provider at settings.SMS_PROVIDER_URL.

Registered as "plugins.sms.PLUGIN" in settings.WORKFLOW_PLUGINS. The step lives in
plugins/sms/steps.py and is imported the first time a Send SMS node runs.
"""

from workflows.nodes import Field
from workflows.plugins import Action, FormField, IntegrationDefinition, Plugin, ServerPlugin, StepImporter

PLUGIN = Plugin(
    integration=IntegrationDefinition(
        type="sms",
        label="SMS",
        description="Send SMS messages",
        icon="message-square",
        form_fields=[
            FormField(
                id="apiKey",
                label="API Key",
                type="password",
                placeholder="Your SMS provider API key",
                config_key="apiKey",
            ),
        ],
        actions=[
            Action(
                slug="send",
                label="Send SMS",
                description="Send an SMS message to a phone number",
                category="SMS",
                config_fields=[
                    Field(
                        "phoneNumber",
                        "Phone Number",
                        "template-input",
                        required=True,
                        extra={"placeholder": "+1234567890"},
                    ),
                    Field(
                        "message",
                        "Message",
                        "template-textarea",
                        required=True,
                        extra={"placeholder": "Your message here", "rows": 3},
                    ),
                ],
                output_fields=[
                    {"field": "success", "description": "Whether the SMS was sent"},
                    {"field": "messageId", "description": "The SMS message ID"},
                    {"field": "error", "description": "Why the SMS was not sent (when success is false)"},
                ],
            ),
        ],
    ),
    server=ServerPlugin(
        step_importers=[StepImporter(action_id="sms/send", path="plugins.sms.steps:send_sms")],
        action_labels={"sms/send": "Send SMS"},
    ),
)
