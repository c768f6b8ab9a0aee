"""Encrypt integration credentials at rest with Fernet (AES-128-CBC + HMAC-SHA256).

Keys come from settings.WORKFLOW_INTEGRATION_KEYS (newest first, so old keys still decrypt
during a rotation); without any, one key is derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    keys = list(getattr(settings, "WORKFLOW_INTEGRATION_KEYS", []) or [])
    if not keys:
        digest = hashlib.sha256(f"workflows.integrations:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_json(value: dict) -> str:
    """The Fernet token of `value`'s JSON."""
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt_json(token: str) -> dict:
    """The value encrypted by encrypt_json; ValueError when no key fits or it was tampered with."""
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError("credentials cannot be decrypted with the configured keys") from exc
