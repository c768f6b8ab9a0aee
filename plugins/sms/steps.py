"""The SMS step: one POST to the provider with the integration's API key."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from django.conf import settings

from workflows.nodes import NodeError, StepContext


def send_sms(config: dict, ctx: StepContext) -> dict:
    """Send `message` to `phoneNumber`; returns {success, messageId}."""
    phone, message = str(config.get("phoneNumber") or "").strip(), str(config.get("message") or "")
    if not phone:
        raise NodeError("phoneNumber resolved to nothing", retryable=False)
    api_key = ctx.credentials.get("apiKey")
    if not api_key:
        raise NodeError("the SMS integration has no API key", retryable=False)
    body = json.dumps({"to": phone, "body": message}).encode()
    request = urllib.request.Request(
        settings.SMS_PROVIDER_URL,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
    )
    ctx.logger.info(f"Sending SMS to {phone}")
    try:
        with urllib.request.urlopen(request, timeout=settings.WORKFLOW_HTTP_TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        # The provider's 4xx (bad number, bad key) will not heal by retrying; its 5xx may.
        raise NodeError(f"SMS provider answered {exc.code}", retryable=exc.code >= 500 or exc.code == 429) from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise NodeError(f"SMS provider unreachable: {getattr(exc, 'reason', exc)}") from exc
    message_id = answer.get("id") if isinstance(answer, dict) else None
    ctx.logger.info(f"SMS accepted as {message_id}")
    return {"success": True, "messageId": message_id}
