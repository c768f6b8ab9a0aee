"""Make and check workflow API keys (pure): `wfb_<prefix>-<secret>-<secret>`.

The prefix (8 characters) is public: it names the key in lists and finds its row. The two
secret groups carry 24 random base62 characters, about 143 bits, so a plain SHA-256 is
enough to store them (nobody can guess through such a space, slow hash or not).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import string
from dataclasses import dataclass

SCHEME = "wfb_"
ALPHABET = string.ascii_letters + string.digits
PREFIX_LENGTH = 8
SECRET_GROUPS = (12, 12)
SECRET_BITS = sum(SECRET_GROUPS) * math.log2(len(ALPHABET))
# Compared against when no key has the given prefix, so a miss costs the same as a hit.
_DUMMY_HASH = "0" * 64


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: `raw` is shown once, `prefix` and `hash` are stored."""

    raw: str
    prefix: str
    hash: str


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def hash_key(raw: str) -> str:
    """The SHA-256 hex digest stored for `raw`."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def generate() -> NewKey:
    """A new random key with its public prefix and stored hash."""
    prefix = SCHEME + _random(PREFIX_LENGTH)
    raw = "-".join([prefix, *(_random(n) for n in SECRET_GROUPS)])
    return NewKey(raw=raw, prefix=prefix, hash=hash_key(raw))


def prefix_of(raw: str) -> str | None:
    """The public prefix of a key shaped like ours, or None."""
    if not isinstance(raw, str) or not raw.startswith(SCHEME):
        return None
    prefix = raw.split("-", 1)[0]
    if len(prefix) != len(SCHEME) + PREFIX_LENGTH:
        return None
    return prefix


def matches(raw: str, stored_hash: str | None) -> bool:
    """Whether `raw` hashes to `stored_hash`, compared in constant time."""
    return hmac.compare_digest(hash_key(raw), stored_hash or _DUMMY_HASH) and stored_hash is not None
