"""A step module imported only when an echo/say node first runs."""

from tests.workflows.sample_plugins import IMPORTED

IMPORTED.append(__name__)


def say(config, ctx):
    ctx.logger.info(f"saying {config['text']}")
    return {
        "said": config["text"],
        "executionId": str(ctx.execution_id),
        "nodeId": ctx.node_id,
        "attempt": ctx.attempt,
        "runAs": ctx.run_as().username,
        "token": ctx.credentials.get("token"),
    }
