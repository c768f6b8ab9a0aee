"""Plugins for the tests: a good one with a lazy step and an async step, and broken ones."""

from workflows.nodes import Field
from workflows.plugins import Action, FormField, IntegrationDefinition, Plugin, ServerPlugin, StepImporter

# Step modules append their name here when they are imported (the laziness tests read it).
IMPORTED: list[str] = []


async def shout(config, ctx):
    ctx.logger.info("shouting")
    return {"text": str(config.get("text", "")).upper(), "credentials": sorted(ctx.credentials)}


def not_json(config, ctx):
    return {"when": object()}


def broken_options(config):
    raise KeyError("voices")


def _echo_actions(category="Echo"):
    return [
        Action(
            slug="say",
            label="Say",
            category=category,
            config_fields=[Field("text", "Text", "template-input", required=True)],
        ),
        Action(
            slug="shout",
            label="Shout",
            category=category,
            config_fields=[
                Field("text", "Text", "template-input"),
                Field("voice", "Voice", "combobox", extra={"getOptions": broken_options}),
            ],
        ),
        Action(slug="broken", label="Broken", category=category),
    ]


ECHO = Plugin(
    integration=IntegrationDefinition(
        type="echo",
        label="Echo",
        description="Says things back",
        icon="repeat",
        form_fields=[FormField(id="token", label="Token", type="password")],
        actions=_echo_actions(),
    ),
    server=ServerPlugin(
        step_importers=[
            StepImporter(action_id="echo/say", path="tests.workflows.sample_plugins.echo_steps:say"),
            StepImporter(action_id="echo/shout", step=shout),
            StepImporter(action_id="echo/broken", step=not_json),
        ],
        action_labels={"echo/say": "Say it"},
    ),
)

BAD_CATEGORY = Plugin(
    integration=IntegrationDefinition(
        type="bad", label="Bad", actions=[Action(slug="go", label="Go", category="Something else")]
    ),
    server=ServerPlugin(step_importers=[StepImporter(action_id="bad/go", step=shout)]),
)

NO_STEP = Plugin(
    integration=IntegrationDefinition(
        type="nostep", label="No Step", actions=[Action(slug="go", label="Go", category="No Step")]
    ),
    server=ServerPlugin(),
)

BAD_PATHS = Plugin(
    integration=IntegrationDefinition(
        type="paths",
        label="Paths",
        actions=[
            Action(slug="nomodule", label="No module", category="Paths"),
            Action(slug="nofunction", label="No function", category="Paths"),
            Action(slug="malformed", label="Malformed", category="Paths"),
        ],
    ),
    server=ServerPlugin(
        step_importers=[
            StepImporter(action_id="paths/nomodule", path="tests.workflows.sample_plugins.not_there:run"),
            StepImporter(action_id="paths/nofunction", path="tests.workflows.sample_plugins.echo_steps:missing"),
            StepImporter(action_id="paths/malformed", path="tests.workflows.sample_plugins.echo_steps.say"),
        ]
    ),
)

# Same integration type as ECHO, so its action ids collide.
ECHO_AGAIN = Plugin(
    integration=IntegrationDefinition(
        type="echo", label="Echo", actions=[Action(slug="say", label="Say", category="Echo")]
    ),
    server=ServerPlugin(step_importers=[StepImporter(action_id="echo/say", step=shout)]),
)

BAD_FIELD = Plugin(
    integration=IntegrationDefinition(
        type="fieldy",
        label="Fieldy",
        actions=[Action(slug="go", label="Go", category="Fieldy", config_fields=[Field("x", "X", "colour-picker")])],
    ),
    server=ServerPlugin(step_importers=[StepImporter(action_id="fieldy/go", step=shout)]),
)

NOT_A_PLUGIN = {"integration": "nope"}


def message_templates(config):
    """Options that depend on the form: the templates of the chosen channel."""
    channel = config.get("channel") or "email"
    return [
        {"value": f"{channel}-welcome", "label": f"Welcome ({channel})"},
        {"value": f"{channel}-reminder", "label": f"Reminder ({channel})"},
    ]


def notify(config, ctx):
    return {
        "sent": True,
        "to": config.get("emailAddress") or config.get("phoneNumber"),
        "template": config.get("template"),
    }


# The builder's form test: a showWhen field per channel and a combobox whose options come
# from the server (getOptions), refetched when the channel changes.
NOTIFY = Plugin(
    integration=IntegrationDefinition(
        type="notify",
        label="Notify",
        description="Tell a customer something",
        icon="send",
        actions=[
            Action(
                slug="send",
                label="Send notification",
                category="Notify",
                description="E-mail or text a customer",
                config_fields=[
                    Field(
                        "channel",
                        "Channel",
                        "select",
                        required=True,
                        default="email",
                        options=[{"value": "email", "label": "E-mail"}, {"value": "sms", "label": "SMS"}],
                    ),
                    Field(
                        "emailAddress",
                        "E-mail address",
                        "template-input",
                        required=True,
                        extra={
                            "showWhen": {"field": "channel", "equals": "email"},
                            "placeholder": "someone@example.com",
                        },
                    ),
                    Field(
                        "phoneNumber",
                        "Phone number",
                        "template-input",
                        required=True,
                        extra={"showWhen": {"field": "channel", "equals": "sms"}, "placeholder": "+33…"},
                    ),
                    Field(
                        "template",
                        "Message template",
                        "combobox",
                        required=True,
                        extra={"getOptions": message_templates, "optionsDependencyKeys": ["channel"]},
                    ),
                ],
                output_fields=[{"field": "sent", "description": "Whether it was sent"}],
            )
        ],
    ),
    server=ServerPlugin(step_importers=[StepImporter(action_id="notify/send", step=notify)]),
)
