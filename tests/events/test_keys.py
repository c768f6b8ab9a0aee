"""The key format, its randomness and the constant-time check (pure, no database)."""

import re

from events import keys


def test_generated_key_has_the_documented_shape():
    new = keys.generate()
    assert re.fullmatch(r"wfb_[A-Za-z0-9]{8}-[A-Za-z0-9]{12}-[A-Za-z0-9]{12}", new.raw)
    assert new.raw.startswith(new.prefix + "-")
    assert new.prefix == keys.prefix_of(new.raw)


def test_secret_part_carries_at_least_128_random_bits():
    assert keys.SECRET_BITS >= 128


def test_only_the_hash_is_derived_and_it_matches():
    new = keys.generate()
    assert new.hash == keys.hash_key(new.raw) and new.raw not in new.hash
    assert keys.matches(new.raw, new.hash)
    assert not keys.matches(new.raw[:-1] + ("a" if new.raw[-1] != "a" else "b"), new.hash)
    assert not keys.matches(new.raw, None)


def test_keys_are_distinct():
    assert len({keys.generate().raw for _ in range(200)}) == 200


def test_prefix_of_rejects_foreign_tokens():
    assert keys.prefix_of("abc") is None
    assert keys.prefix_of("wfb_short-x") is None
    assert keys.prefix_of(None) is None
