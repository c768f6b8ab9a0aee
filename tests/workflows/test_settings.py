"""Settings: the embedded default runs without the [redis] extra, and REDIS_URL without it
stops with an error that says what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Makes channels_redis and redis unimportable, as on an install without the [redis] extra.
WITHOUT_REDIS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("channels_redis", "redis"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import django
django.setup()
"""


def run_without_redis(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    environ.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_REDIS + code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )


def test_the_embedded_default_needs_no_redis_package():
    done = run_without_redis(
        "from django.core import management; management.call_command('check');"
        "import workflows.live, config.asgi; print('ok')",
        WORKFLOW_EMBEDDED_WORKER="false",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


def test_redis_url_without_the_extra_says_what_to_install():
    done = run_without_redis("", REDIS_URL="redis://127.0.0.1:6379/0")
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and "durable-workflows[redis]" in done.stderr
