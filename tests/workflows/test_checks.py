"""Start-up checks of the channel layer's settings."""

import pytest

from workflows.checks import check_channel_layer_timeouts, check_pool_size, pool_shortfall, redis_socket_timeout

# channels-redis and redis-py are the [redis] extra: `make test-pg` installs it, `make test` not.
try:
    import channels_redis  # noqa: F401

    HAS_REDIS_EXTRA = True
except ImportError:
    HAS_REDIS_EXTRA = False
needs_redis_extra = pytest.mark.skipif(not HAS_REDIS_EXTRA, reason="needs the [redis] extra (make test-pg installs it)")

REDIS = "channels_redis.core.RedisChannelLayer"


def layer(host) -> dict:
    return {"default": {"BACKEND": REDIS, "CONFIG": {"hosts": [host]}}}


@needs_redis_extra
def test_the_projects_redis_settings_pass(settings):
    settings.CHANNEL_LAYERS = layer(
        {"address": "redis://127.0.0.1:6379/0", "socket_timeout": settings.REDIS_SOCKET_TIMEOUT}
    )
    assert check_channel_layer_timeouts() == []


@needs_redis_extra
def test_a_socket_timeout_no_longer_than_the_blocking_receive_is_refused(settings):
    for host in (
        {"address": "redis://127.0.0.1:6379/0", "socket_timeout": 5},
        {"address": "redis://127.0.0.1:6379/0?socket_timeout=3", "socket_timeout": 20},  # the URL wins
    ):
        settings.CHANNEL_LAYERS = layer(host)
        problems = check_channel_layer_timeouts()
        assert [p.id for p in problems] == ["workflows.E012"], host


@needs_redis_extra
def test_a_bare_url_gets_redis_pys_default_which_is_refused_when_too_short(settings):
    settings.CHANNEL_LAYERS = layer("redis://127.0.0.1:6379/0")
    default = redis_socket_timeout("redis://127.0.0.1:6379/0")  # 5 s since redis-py 6, None before
    expected = ["workflows.E012"] if default is not None and default <= 5 else []
    assert [p.id for p in check_channel_layer_timeouts()] == expected


def test_the_in_memory_layer_needs_no_timeout(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert check_channel_layer_timeouts() == []


def pooled(settings, max_size: int) -> None:
    settings.DATABASES = {
        **settings.DATABASES,
        "default": {
            **settings.DATABASES["default"],
            "OPTIONS": {**settings.DATABASES["default"].get("OPTIONS", {}), "pool": {"max_size": max_size}},
        },
    }


def test_a_pool_smaller_than_a_workers_threads_is_warned_about(settings):
    settings.WORKFLOW_WORKER_CONCURRENCY = 8
    pooled(settings, 8)
    problems = check_pool_size()
    assert [p.id for p in problems] == ["workflows.W013"]
    assert "needs 12" in problems[0].msg and "DATABASE_POOL_MAX_SIZE" in problems[0].hint
    pooled(settings, 12)
    assert check_pool_size() == []


def test_no_pool_means_nothing_to_warn_about(settings):
    settings.WORKFLOW_WORKER_CONCURRENCY = 64
    settings.DATABASES = {**settings.DATABASES, "default": {**settings.DATABASES["default"], "OPTIONS": {}}}
    assert pool_shortfall(64) is None


def test_an_allowed_network_that_is_not_one_is_refused_at_start_up(settings):
    from workflows.checks import check_http_allowed_networks

    settings.WORKFLOW_HTTP_ALLOWED_NETWORKS = ["10.20.0.0/16", "127.0.0.1", "::1/128"]
    assert check_http_allowed_networks() == []
    settings.WORKFLOW_HTTP_ALLOWED_NETWORKS = ["10.20.0.0/16", "intranet"]
    assert [p.id for p in check_http_allowed_networks()] == ["workflows.E014"]
