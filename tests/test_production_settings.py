"""Production settings, as docs/deploy.md documents them, read by a fresh process each time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

# The production environment of docs/deploy.md ("Settings"), with placeholder hosts:
# nothing here connects to them.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3Yq8-not-a-real-secret-but-long-and-varied-enough-0123456789-ABCDEFG",
    "ALLOWED_HOSTS": "liveblog.example.com",
    "BEHIND_TLS_PROXY": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "DATABASE_URL": "postgres://liveblog:secret@postgres.invalid:5432/liveblog",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}

SETTINGS_DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "database": {k: s.DATABASES["default"][k] for k in ("ENGINE", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "OPTIONS")},
    "channel_layer": s.CHANNEL_LAYERS["default"],
    "staticfiles": s.STORAGES["staticfiles"]["BACKEND"],
    "STATIC_ROOT": str(s.STATIC_ROOT),
    "SECURE_PROXY_SSL_HEADER": s.SECURE_PROXY_SSL_HEADER,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "CSRF_TRUSTED_ORIGINS": s.CSRF_TRUSTED_ORIGINS,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "root_log_handlers": s.LOGGING["root"]["handlers"],
}))
"""


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run Python in a clean environment: only what the test sets reaches the settings."""
    clean = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "liveblog.settings"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_under(**env: str) -> dict:
    result = run(["-c", SETTINGS_DUMP], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_prints_no_warning_under_the_documented_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_warns_when_hsts_preload_is_left_out():
    env = {**PRODUCTION_ENV, "SECURE_HSTS_PRELOAD": "0"}
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode != 0
    assert "security.W021" in result.stderr


def test_a_missing_secret_key_with_debug_off_stops_the_start_with_a_clear_error():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"}
    result = run(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: SECRET_KEY is required when DEBUG is off: "
        "set SECRET_KEY (or SECRET_KEY_FILE)" in result.stderr
    )


def test_the_secret_key_can_come_from_a_docker_secret_file(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text(PRODUCTION_ENV["SECRET_KEY"] + "\n")
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"}
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **env,
        SECRET_KEY_FILE=str(secret),
    )
    assert result.returncode == 0, result.stderr


def test_missing_allowed_hosts_with_debug_off_stops_the_start_with_a_clear_error():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "ALLOWED_HOSTS"}
    result = run(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured: ALLOWED_HOSTS is required when DEBUG is off" in result.stderr


def test_production_pools_postgresql_connections_and_checks_them_on_checkout():
    settings = settings_under(**PRODUCTION_ENV)
    assert settings["DEBUG"] is False
    database = settings["database"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    # The pool refuses persistent connections; health checks make it test each checkout.
    assert database["CONN_MAX_AGE"] == 0
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"] == {
        "connect_timeout": 5,
        "pool": {"min_size": 2, "max_size": 10, "timeout": 10},
    }


def test_the_pool_can_be_sized_or_turned_off_for_an_external_pooler():
    sized = settings_under(**PRODUCTION_ENV, DATABASE_POOL_MAX_SIZE="4")
    assert sized["database"]["OPTIONS"]["pool"]["max_size"] == 4
    unpooled = settings_under(**PRODUCTION_ENV, DATABASE_POOL="0")
    assert unpooled["database"]["OPTIONS"] == {"connect_timeout": 5}


def test_production_is_https_only_behind_the_proxy_with_whitenoise_and_stdout_logs():
    settings = settings_under(**PRODUCTION_ENV, CSRF_TRUSTED_ORIGINS="https://a.example.com")
    assert settings["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["CSRF_COOKIE_SECURE"] is True
    assert settings["SECURE_HSTS_SECONDS"] == 31536000
    assert settings["CSRF_TRUSTED_ORIGINS"] == ["https://a.example.com"]
    assert settings["staticfiles"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert settings["STATIC_ROOT"] == str(BASE_DIR / "staticfiles")
    assert settings["root_log_handlers"] == ["stdout"]


def test_redis_url_selects_the_pubsub_channel_layer_by_default():
    layer = settings_under(**PRODUCTION_ENV)["channel_layer"]
    assert layer == {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": ["redis://redis.invalid:6379/0"], "prefix": "liveblog"},
    }


def test_several_redis_urls_shard_the_channel_layer():
    env = {**PRODUCTION_ENV, "REDIS_URL": "redis://r1.invalid:6379/0, redis://r2.invalid:6379/0"}
    layer = settings_under(**env)["channel_layer"]
    assert layer["CONFIG"]["hosts"] == ["redis://r1.invalid:6379/0", "redis://r2.invalid:6379/0"]


@pytest.mark.parametrize(
    ("choice", "backend"),
    [
        ("redis", "channels_redis.core.RedisChannelLayer"),
        ("memory", "channels.layers.InMemoryChannelLayer"),
    ],
)
def test_channel_layer_chooses_the_layer(choice, backend):
    layer = settings_under(**PRODUCTION_ENV, CHANNEL_LAYER=choice)["channel_layer"]
    assert layer["BACKEND"] == backend


def test_without_redis_url_the_embedded_default_keeps_the_in_memory_layer():
    assert settings_under()["channel_layer"] == {"BACKEND": "channels.layers.InMemoryChannelLayer"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHANNEL_LAYER": "rabbitmq"}, "CHANNEL_LAYER must be one of redis-pubsub, redis, memory"),
        ({"CHANNEL_LAYER": "redis", "REDIS_URL": ""}, "CHANNEL_LAYER=redis needs REDIS_URL"),
        ({"DATABASE_POOL_MAX_SIZE": "lots"}, "DATABASE_POOL_MAX_SIZE must be an integer"),
    ],
)
def test_a_bad_topology_setting_is_refused_clearly_at_start(env, message):
    result = run(["manage.py", "check"], **{**PRODUCTION_ENV, **env})
    assert result.returncode != 0
    assert message in result.stderr
