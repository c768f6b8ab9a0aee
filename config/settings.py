"""Settings for the workflow platform, read from the environment with django-environ.

With nothing set it runs on the embedded default: a SQLite file, the in-memory channel
layer and the worker inside the web process. Every variable is listed in the README.
"""

from importlib import metadata
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _package_version() -> str:
    try:
        return metadata.version("durable-workflows")
    except metadata.PackageNotFoundError:
        return "dev"


environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -----------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "config.admin.SuperuserAdminConfig",  # django.contrib.admin, for superusers only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "accounts",
    "workflows",
    "approvals",
    "events",
    "widgets",
    # The demo's models back the example DataSource (WORKFLOW_DATASOURCES below).
    "demo",
]

# WhiteNoise serves /static/ from the web process (compressed, cacheable, no CDN needed);
# SERVE_STATIC=false leaves it to a front server.
SERVE_STATIC = env.bool("SERVE_STATIC", default=True)
MIDDLEWARE = [
    # /healthz and /readyz for load balancers and Kubernetes, before the host check (probes
    # address the process by its IP) and everything else.
    "workflows.middleware.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    *(["whitenoise.middleware.WhiteNoiseMiddleware"] if SERVE_STATIC else []),
    "workflows.middleware.ApiBodyLimitMiddleware",
    "workflows.middleware.ApiQueryTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "workflows.tenancy.nav",
                "workflows.navigation.nav",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------


# DATABASE_URL switches to PostgreSQL; the default is a SQLite file beside the code.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # IMMEDIATE takes the write lock at BEGIN, so two threads never deadlock
            # upgrading a read lock; WAL lets readers run beside the one writer.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory: the live-server tests serve the test database from another process.
    DATABASES["default"]["TEST"] = {"NAME": env("SQLITE_TEST_NAME", default=str(BASE_DIR / ".test-db.sqlite3"))}
else:
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Django's own queries bind on the client and are never prepared; this only lets the
    # engine's hot statements (workflows.engine.execute_prepared) be parsed and planned once
    # per connection (and run on their generic plan, set on a connection's first use). Set
    # DATABASE_PREPARED_STATEMENTS=false behind a pooler that cannot keep prepared
    # statements (PgBouncer before 1.21 in transaction mode).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 1)
    # A pool of connections per process (psycopg_pool through Django): a web request borrows
    # an open connection instead of opening one (which cost about a fifth of an API request).
    # Worker threads keep theirs for their life, so the pool must hold a worker's step threads
    # plus its three others and the web threads: raise DATABASE_POOL_MAX_SIZE with --concurrency.
    # With CONN_HEALTH_CHECKS the pool checks a connection before lending it.
    if env.bool("DATABASE_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=16),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
            # Idle connections above min_size close after this long, so a burst of threads
            # does not hold PostgreSQL's connection slots (max_connections) for long.
            "max_idle": env.float("DATABASE_POOL_MAX_IDLE_SECONDS", default=60.0),
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USES_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

# --- Channel layer --------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# How long one Redis read may take before the connection counts as dead (seconds). It must
# exceed channels-redis's blocking pop (5 s): redis-py 6 and later default to a 5 s socket
# timeout, which races that pop and cut every idle socket and SSE stream after about 5 s.
# A `socket_timeout` in REDIS_URL's query string still wins (workflows.checks refuses one
# that is too short).
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=20.0)
if REDIS_URL:
    try:
        import channels_redis  # noqa: F401
        import redis.exceptions
    except ImportError as exc:  # the [redis] extra is for deployments with REDIS_URL only
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"REDIS_URL is set but {exc.name} is not installed: pip install 'durable-workflows[redis]'"
        ) from exc

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "workflows.layers.RedisChannelLayer",  # channels-redis, cheap on empty groups
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": REDIS_SOCKET_TIMEOUT,
                        "socket_connect_timeout": 5,
                        # After a Redis restart the pooled connections are dead: a command that
                        # finds one reconnects and runs once more instead of failing.
                        "retry_on_error": [redis.exceptions.ConnectionError],
                    }
                ],
                "prefix": env("CHANNEL_PREFIX", default="asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Auth, i18n, static -----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# The product's own login (accounts/urls.py) admits every active user; the admin, superusers only.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workflows:home"
LOGOUT_REDIRECT_URL = "login"
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise (in MIDDLEWARE when SERVE_STATIC) looks files up where they live (the finders),
# so neither tests nor a fresh checkout need collectstatic; `make run` and a production
# deployment collect them into STATIC_ROOT, which it serves too.
WHITENOISE_USE_FINDERS = True

# --- E-mail -------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="workflows@localhost")

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies are read with a depth bound and the clean-text rule (workflows/api/parsers.py).
    # The API takes JSON only: form bodies would bypass those checks.
    "DEFAULT_PARSER_CLASSES": ["workflows.api.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "workflows.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Durable workflows API",
    "DESCRIPTION": "Workflows, executions, approvals, events and widgets.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the error answers it can give (workflows/api/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "workflows.api.schema.document_errors"],
    # Names for the choice sets that several fields share (without them the components get
    # hashed names such as Status84eEnum).
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "workflows.models.ExecutionStatus",
        "OperatorActionKindEnum": "workflows.models.OperatorActionKind",
        "ExecutionActionEnum": ["cancel", "retry"],
    },
}
# Bodies larger than this answer 413 on /api/ (bytes).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1_048_576)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, 2_621_440)
# JSON bodies nested deeper than this (arrays and objects) answer 400 naming the field.
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=64)

# --- Workflow engine -------------------------------------------------------------
# Run the worker inside the web process (default on SQLite; off when DATABASE_URL is PostgreSQL).
WORKFLOW_EMBEDDED_WORKER = env.bool("WORKFLOW_EMBEDDED_WORKER", default=not USES_POSTGRES)
WORKFLOW_WORKER_CONCURRENCY = env.int("WORKFLOW_WORKER_CONCURRENCY", default=4)
WORKFLOW_LEASE_SECONDS = env.float("WORKFLOW_LEASE_SECONDS", default=60.0)
WORKFLOW_POLL_SECONDS = env.float("WORKFLOW_POLL_SECONDS", default=5.0)
WORKFLOW_DEFAULT_RETRY = {
    "maxAttempts": env.int("WORKFLOW_RETRY_MAX_ATTEMPTS", default=3),
    "initialInterval": env.float("WORKFLOW_RETRY_INITIAL_SECONDS", default=1.0),
    "backoffFactor": env.float("WORKFLOW_RETRY_BACKOFF_FACTOR", default=2.0),
    "maxInterval": env.float("WORKFLOW_RETRY_MAX_SECONDS", default=300.0),
    "jitter": env.float("WORKFLOW_RETRY_JITTER", default=0.2),
}
WORKFLOW_HTTP_TIMEOUT_SECONDS = env.float("WORKFLOW_HTTP_TIMEOUT_SECONDS", default=30.0)
# The HTTP Request node refuses loopback, link-local, private and metadata addresses (after
# DNS, on every redirect) except these networks (CIDRs) and hosts (names, or name:port).
WORKFLOW_HTTP_ALLOWED_NETWORKS = env.list("WORKFLOW_HTTP_ALLOWED_NETWORKS", default=[])
WORKFLOW_HTTP_ALLOWED_HOSTS = env.list("WORKFLOW_HTTP_ALLOWED_HOSTS", default=[])
WORKFLOW_MAX_FOREACH_ITEMS = env.int("WORKFLOW_MAX_FOREACH_ITEMS", default=1000)
# A step output larger than this (bytes of JSON) fails its node instead of being stored.
WORKFLOW_MAX_OUTPUT_BYTES = env.int("WORKFLOW_MAX_OUTPUT_BYTES", default=8 * 1024 * 1024)
# Extra node-type modules: each exposes NODE_TYPES, a list of workflows.nodes.NodeType.
WORKFLOW_NODE_MODULES = env.list(
    "WORKFLOW_NODE_MODULES",
    default=["workflows.builtin_nodes", "approvals.nodes", "events.nodes", "widgets.nodes"],
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # The project's own loggers print once, with their names, whatever the server adds to root.
    "loggers": {
        app: {"handlers": ["console"], "level": env("WORKFLOW_LOG_LEVEL", default="INFO"), "propagate": False}
        for app in ("workflows", "approvals", "events", "widgets")
    },
}
WORKFLOW_MAX_CHILD_DEPTH = env.int("WORKFLOW_MAX_CHILD_DEPTH", default=10)
WORKFLOW_SHUTDOWN_GRACE_SECONDS = env.float("WORKFLOW_SHUTDOWN_GRACE_SECONDS", default=30.0)
# Worker heartbeats (the workers page, the health probes): how often each worker writes its
# row, after how long without one a worker shows as stale, and when its row is deleted.
WORKFLOW_HEARTBEAT_SECONDS = env.float("WORKFLOW_HEARTBEAT_SECONDS", default=5.0)
WORKFLOW_WORKER_STALE_SECONDS = env.float("WORKFLOW_WORKER_STALE_SECONDS", default=30.0)
WORKFLOW_WORKER_FORGET_SECONDS = env.float("WORKFLOW_WORKER_FORGET_SECONDS", default=86_400.0)
# The release a worker reports on the workers page (default: the installed package's version).
WORKFLOW_VERSION = env("WORKFLOW_VERSION", default="") or _package_version()
# Readiness probes (/readyz, runworkflows --health-port): how long each check may take.
WORKFLOW_HEALTH_TIMEOUT_SECONDS = env.float("WORKFLOW_HEALTH_TIMEOUT_SECONDS", default=2.0)
# Cards other apps add to the home page: dotted paths of `fn(*, user, tenant)` returning a
# workflows.dashboard.Panel (or None).
WORKFLOW_HOME_PANELS = ["approvals.dashboard.pending_panel"]
# Checks every trigger runs before an execution starts: dotted paths called with
# (version=..., user=...); each may raise a workflows.exceptions.WorkflowError.
WORKFLOW_TRIGGER_CHECKS = ["workflows.integrations.check_integration_references"]

# --- Plugins, integrations, data sources, triggers (workflows) ------------------------
# Plugins by the dotted path of a workflows.plugins.Plugin instance (docs/plugins.md).
WORKFLOW_PLUGINS = env.list("WORKFLOW_PLUGINS", default=["plugins.sms.PLUGIN"])
# Callables returning extra node types: the plugins' actions and the data-source nodes.
WORKFLOW_NODE_SOURCES = ["workflows.plugins.plugin_node_types", "workflows.datasources.node_types"]
# Fernet keys for integration credentials, newest first (rotation: prepend a new key, keep
# the old ones until re-saved). Empty: one key derived from SECRET_KEY (fine for development).
WORKFLOW_INTEGRATION_KEYS = env.list("WORKFLOW_INTEGRATION_KEYS", default=[])
WORKFLOW_CREDENTIALS_RESOLVER = "workflows.integrations.credentials_for_node"
# Where the SMS plugin posts messages.
SMS_PROVIDER_URL = env("SMS_PROVIDER_URL", default="http://127.0.0.1:9901/send")
# Models exposed to DataSource nodes and model-event triggers: key -> model, the tenant
# field that scopes rows, the fields workflows may read and the ones they may write.
WORKFLOW_DATASOURCES = {
    "orders": {
        "model": "demo.Order",
        "label": "Orders",
        "tenantField": "tenant",
        "read": ["id", "number", "customer", "amount", "status", "created_at"],
        "write": ["number", "customer", "amount", "status"],
    },
}
WORKFLOW_DATASOURCE_MAX_ROWS = env.int("WORKFLOW_DATASOURCE_MAX_ROWS", default=1000)
# How often each worker's timer fires due cron schedules (each due time once, whichever
# worker claims it).
WORKFLOW_SCHEDULE_SECONDS = env.float("WORKFLOW_SCHEDULE_SECONDS", default=1.0)

# --- Approvals ----------------------------------------------------------------------
# One-click decision links in approval e-mails (signed, bound to approver and request).
APPROVALS_EMAIL_LINKS = env.bool("APPROVALS_EMAIL_LINKS", default=False)
# Upper bound on a link's age; a link also dies when its request stops being pending.
APPROVALS_LINK_MAX_AGE_SECONDS = env.int("APPROVALS_LINK_MAX_AGE_SECONDS", default=30 * 86400)
# How often each worker checks for due reminders and escalations (seconds).
APPROVALS_DUTY_SECONDS = env.float("APPROVALS_DUTY_SECONDS", default=30.0)
# Where an execution is viewed; linked from the approval page when the path resolves.
APPROVALS_EXECUTION_URL = env("APPROVALS_EXECUTION_URL", default="/workflows/executions/{id}/")

# --- Events and workflow API keys --------------------------------------------------------
# A signal that arrives before any execution waits on its key is kept this long (seconds)
# for the first wait on that key to consume; also how long Idempotency-Key retries replay.
EVENTS_SIGNAL_BUFFER_SECONDS = env.int("EVENTS_SIGNAL_BUFFER_SECONDS", default=86_400)
# Largest signal payload accepted, in bytes of compact JSON; larger answers 413.
EVENTS_MAX_PAYLOAD_BYTES = env.int("EVENTS_MAX_PAYLOAD_BYTES", default=262_144)
# How often each worker purges stale buffered signals and closes forgotten waits (seconds).
# Deadlines do not depend on it: a wait's expiry is its pause deadline, fired by the timer.
EVENTS_PURGE_INTERVAL_SECONDS = env.int("EVENTS_PURGE_INTERVAL_SECONDS", default=60)

# --- Widgets ----------------------------------------------------------------------------
# Extra widget processors: type name -> dotted path of `fn(resolved_config, context)`;
# merged over the built-in vega-lite, table, metric and text (widgets/processors.py).
WIDGET_PROCESSORS: dict[str, str] = {}
# SYNC widget data: how long POST /api/widgets/<id>/data/ waits for the end, and how often it looks.
WIDGET_SYNC_TIMEOUT_SECONDS = env.float("WIDGET_SYNC_TIMEOUT_SECONDS", default=30.0)
WIDGET_SYNC_POLL_SECONDS = env.float("WIDGET_SYNC_POLL_SECONDS", default=0.1)
# Registry rows not seen for this long are removed (command cleanup_widget_connections, worker duty).
WIDGET_STALE_SECONDS = env.float("WIDGET_STALE_SECONDS", default=3600.0)
WIDGET_CLEANUP_EVERY_SECONDS = env.float("WIDGET_CLEANUP_EVERY_SECONDS", default=300.0)

# --- Execution viewer ------------------------------------------------------------------------
# Server-sent events: heartbeat comment interval, the browser's reconnect delay, how often a
# stream looks for messages (the in-memory layer does not wake it), and a stream's maximum
# life (0 = unlimited; the browser reconnects and gets a fresh snapshot).
WORKFLOW_SSE_HEARTBEAT_SECONDS = env.float("WORKFLOW_SSE_HEARTBEAT_SECONDS", default=15.0)
WORKFLOW_SSE_RETRY_MS = env.int("WORKFLOW_SSE_RETRY_MS", default=2000)
WORKFLOW_SSE_TICK_SECONDS = env.float("WORKFLOW_SSE_TICK_SECONDS", default=0.5)
WORKFLOW_SSE_MAX_SECONDS = env.float("WORKFLOW_SSE_MAX_SECONDS", default=3600.0)
# Test runs older than this (a duration: 30m, 12h, 7d) are deleted by the worker duty below
# (every WORKFLOW_TEST_RUN_CLEANUP_SECONDS; 0 turns it off) and `manage.py cleanup_test_runs`.
WORKFLOW_TEST_RUN_MAX_AGE = env("WORKFLOW_TEST_RUN_MAX_AGE", default="7d")
WORKFLOW_TEST_RUN_CLEANUP_SECONDS = env.float("WORKFLOW_TEST_RUN_CLEANUP_SECONDS", default=3600.0)

# --- Operator console: bulk operations on executions ------------------------------------
# A bulk cancel or retry fixes its set of executions (at most WORKFLOW_BULK_MAX) when it is
# made; every worker's timer acts on it in batches of WORKFLOW_BULK_BATCH, at most
# WORKFLOW_BULK_PER_TICK executions a tick, every WORKFLOW_BULK_SECONDS.
WORKFLOW_BULK_MAX = env.int("WORKFLOW_BULK_MAX", default=10_000)
WORKFLOW_BULK_BATCH = env.int("WORKFLOW_BULK_BATCH", default=100)
WORKFLOW_BULK_PER_TICK = env.int("WORKFLOW_BULK_PER_TICK", default=500)
WORKFLOW_BULK_SECONDS = env.float("WORKFLOW_BULK_SECONDS", default=1.0)

# --- Worker duties ----------------------------------------------------------------------------
# Periodic duties run by every worker's timer thread: dotted path -> interval in seconds,
# built once from the intervals above (the test-run cleanup is off at 0).
WORKFLOW_WORKER_DUTIES = {
    "workflows.triggers.fire_due_schedules": WORKFLOW_SCHEDULE_SECONDS,
    "approvals.reminders.run_due": APPROVALS_DUTY_SECONDS,
    "events.services.expire_and_purge": EVENTS_PURGE_INTERVAL_SECONDS,
    "widgets.registry.cleanup_stale": WIDGET_CLEANUP_EVERY_SECONDS,
    "workflows.operations.run_bulk_batches": WORKFLOW_BULK_SECONDS,
    **(
        {"workflows.testruns.cleanup_duty": WORKFLOW_TEST_RUN_CLEANUP_SECONDS}
        if WORKFLOW_TEST_RUN_CLEANUP_SECONDS > 0
        else {}
    ),
}
