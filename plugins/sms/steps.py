"""The SMS step: one POST to the provider with the integration's API key.

A message the provider refuses (a 4xx: bad number, blocked recipient) is an answer, not a
fault: the step returns {"success": false, "error": ...} and the workflow can branch on it.
A fault that may pass (a 5xx, 429, a timeout, no connection) raises, so the node's retry
policy runs it again; every attempt sends the same Idempotency-Key, so a provider that
deduplicates sends the message once even when an answer was lost.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from django.conf import settings

from workflows.nodes import NodeError, StepContext

IDEMPOTENCY_HEADER = "Idempotency-Key"


def send_sms(config: dict, ctx: StepContext) -> dict:
    """Send `message` to `phoneNumber`; returns {success: true, messageId} or, when the
    message cannot be sent as it is, {success: false, error}."""
    phone, message = str(config.get("phoneNumber") or "").strip(), str(config.get("message") or "")
    if not phone:
        return _failed(ctx, "phoneNumber resolved to nothing")
    api_key = ctx.credentials.get("apiKey")
    if not api_key:
        # The integration's set-up, not this message: no run of the workflow can succeed.
        raise NodeError("the SMS integration has no API key", retryable=False)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    if ctx.idempotency_key:
        headers[IDEMPOTENCY_HEADER] = ctx.idempotency_key
    request = urllib.request.Request(
        settings.SMS_PROVIDER_URL,
        data=json.dumps({"to": phone, "body": message}).encode(),
        method="POST",
        headers=headers,
    )
    ctx.logger.info(f"Sending SMS to {phone}")
    try:
        with urllib.request.urlopen(request, timeout=settings.WORKFLOW_HTTP_TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code in (408, 429):
            raise NodeError(f"SMS provider answered {exc.code}") from exc
        return _failed(ctx, f"SMS provider answered {exc.code}{_reason(exc)}")
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise NodeError(f"SMS provider unreachable: {getattr(exc, 'reason', exc)}") from exc
    message_id = answer.get("id") if isinstance(answer, dict) else None
    ctx.logger.info(f"SMS accepted as {message_id}")
    return {"success": True, "messageId": message_id}


def _failed(ctx: StepContext, error: str) -> dict:
    ctx.logger.warning(f"SMS not sent: {error}")
    return {"success": False, "error": error}


def _reason(exc: urllib.error.HTTPError) -> str:
    """The provider's own words ({"error": "..."}), when its answer has them."""
    try:
        body = json.loads(exc.read() or b"null")
    except (ValueError, OSError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return f": {error}" if isinstance(error, str) and error else ""
