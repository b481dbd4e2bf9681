"""Configuration: defaults file -> MODELYARD_CONFIG file -> environment -> explicit overrides.

`config/defaults.toml` is the only place defaults live; this module only knows each key's type
and bounds, so a value from any layer is validated the same way.
"""
from __future__ import annotations

import base64
import copy
import ipaddress
import json
import os
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any, Mapping

import marshmallow as ma
from marshmallow import fields, validate

from registry.domain.criteria import validate_rules
from registry.cron import CronError, parse_cron, time_zone
from registry.domain.errors import InvalidInput

DEFAULTS_PATH = Path(__file__).resolve().parent.parent / "config" / "defaults.toml"
SECRET_KEYS = {("database", "url"), ("storage", "s3_secret_key"), ("webhook", "secret_key"),
               ("auth", "admin_token"), ("report", "smtp_url")}
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
REDACTED = "********"


class ConfigError(Exception):
    """A configuration key is unknown or has a bad value; the message names the key."""


def _int(minimum: int, maximum: int) -> fields.Integer:
    return fields.Integer(required=True, validate=validate.Range(minimum, maximum))


class ServerSchema(ma.Schema):
    host = fields.String(required=True, validate=validate.Length(min=1))
    port = _int(0, 65535)
    data_dir = fields.String(required=True, validate=validate.Length(min=1))
    threads = _int(1, 256)
    workers = _int(0, 64)
    request_timeout_s = _int(1, 3600)
    auto_migrate = fields.Boolean(required=True)
    public_url = fields.String(required=True, validate=validate.Regexp(
        r"^(https?://[^/\s]+(/[^\s]*)?)?$", error="must be empty or an http(s) URL"))


class DatabaseSchema(ma.Schema):
    url = fields.String(required=True)
    pool_size = _int(1, 1000)
    pool_stale_timeout_s = _int(1, 86400)
    busy_timeout_ms = _int(0, 600_000)

    @ma.validates("url")
    def _known_scheme(self, value: str, **_: Any) -> None:
        if value and not value.startswith(("sqlite:", "postgres://", "postgresql://")):
            raise ma.ValidationError("must be empty, sqlite:///PATH or postgresql://...")


class ApiSchema(ma.Schema):
    max_json_bytes = _int(1024, 1 << 30)
    max_json_depth = _int(2, 1000)
    default_page_size = _int(1, 1000)
    max_page_size = _int(1, 10000)
    idempotency_ttl_s = _int(1, 30 * 86400)
    events_max_wait_s = _int(0, 600)


class StorageSchema(ma.Schema):
    backend = fields.String(required=True, validate=validate.OneOf(("local", "s3")))
    local_dir = fields.String(required=True)
    max_file_bytes = _int(1, 1 << 50)
    s3_endpoint = fields.String(required=True)
    s3_bucket = fields.String(required=True, validate=validate.Length(min=3, max=63))
    s3_access_key = fields.String(required=True)
    s3_secret_key = fields.String(required=True)
    s3_region = fields.String(required=True)
    s3_secure = fields.Boolean(required=True)
    presign_ttl_s = _int(1, 7 * 86400)

    @ma.validates_schema
    def _s3_needs_endpoint(self, data: dict, **_: Any) -> None:
        if data.get("backend") == "s3" and not data.get("s3_endpoint"):
            raise ma.ValidationError("required when storage.backend is s3", "s3_endpoint")


class RulesField(fields.Field):
    """A list of criteria rules; from the environment, a JSON array."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ma.ValidationError("must be a JSON array of rules") from None
        try:
            return validate_rules(value, attr)
        except InvalidInput as exc:
            raise ma.ValidationError(exc.detail) from None


class JSONList(fields.List):
    """A list; from the environment, a JSON array."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ma.ValidationError("must be a JSON array") from None
        return super()._deserialize(value, attr, data, **kwargs)


def _network(value: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ma.ValidationError(f"{value!r} is not a network such as 10.0.0.0/8") from None


class WebhookSchema(ma.Schema):
    allow_http = fields.Boolean(required=True)
    allowed_networks = JSONList(fields.String(validate=_network), required=True)
    secret_key = fields.String(required=True)
    retry_schedule_s = JSONList(fields.Float(validate=validate.Range(0, 7 * 86400)),
                                required=True, validate=validate.Length(min=1, max=50))
    retry_jitter = fields.Float(required=True, validate=validate.Range(0, 1))
    connect_timeout_s = fields.Float(required=True, validate=validate.Range(0.1, 60))
    attempt_timeout_s = fields.Float(required=True, validate=validate.Range(0.1, 300))
    response_log_bytes = _int(0, 65536)
    disable_after_failing_s = _int(60, 365 * 86400)
    secret_overlap_s = _int(0, 30 * 86400)
    poll_interval_s = fields.Float(required=True, validate=validate.Range(0.01, 60))
    batch_size = _int(1, 1000)
    dispatch_in_serve = fields.Boolean(required=True)

    @ma.validates("secret_key")
    def _fernet_key(self, value: str, **_: Any) -> None:
        if value and len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) != 32:
            raise ma.ValidationError("must be 32 url-safe base64 bytes "
                                     "(python -c 'from cryptography.fernet import Fernet; "
                                     "print(Fernet.generate_key().decode())')")


class CriteriaSchema(ma.Schema):
    staging = RulesField(required=True)
    production = RulesField(required=True)


class CronField(fields.String):
    """A cron expression (or empty: never), checked here so a bad one stops start-up."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        if value:
            try:
                parse_cron(value)
            except CronError as exc:
                raise ma.ValidationError(str(exc)) from None
        return value


def _time_zone(value: str) -> None:
    try:
        time_zone(value)
    except CronError as exc:
        raise ma.ValidationError(str(exc)) from None


class ScheduleSchema(ma.Schema):
    timezone = fields.String(required=True, validate=_time_zone)
    reevaluate = CronField(required=True)
    report = CronField(required=True)
    artifacts_gc = CronField(required=True)
    db_analyze = CronField(required=True)
    expire_requests = CronField(required=True)
    check_deployments = CronField(required=True)
    artifacts_gc_grace_s = _int(0, 365 * 86400)
    report_period_days = _int(1, 366)
    report_trend_points = _int(2, 500)
    misfire_grace_s = _int(1, 86400)
    abandon_after_s = _int(60, 30 * 86400)
    run_in_serve = fields.Boolean(required=True)


class AuthSchema(ma.Schema):
    enabled = fields.Boolean(required=True)
    admin_token = fields.String(required=True, validate=validate.Length(max=512))

    @ma.validates("admin_token")
    def _long_enough(self, value: str, **_: Any) -> None:
        if value and len(value) < 32:
            raise ma.ValidationError("needs at least 32 characters")


def _smtp_url(value: str) -> None:
    if value and urllib.parse.urlsplit(value).scheme not in SMTP_SCHEMES:
        raise ma.ValidationError("must be empty or smtp://, smtp+starttls:// or smtps:// "
                                 "[user:password@]host[:port]")


class ReportSchema(ma.Schema):
    mail_to = JSONList(fields.Email(), required=True, validate=validate.Length(max=100))
    mail_from = fields.Email(required=True)
    smtp_url = fields.String(required=True, validate=_smtp_url)
    mail_attempts = _int(1, 20)
    mail_retry_s = fields.Float(required=True, validate=validate.Range(0, 3600))


class DeploySchema(ma.Schema):
    converge_timeout_s = fields.Float(required=True, validate=validate.Range(1, 7 * 86400))
    stale_after_s = fields.Float(required=True, validate=validate.Range(1, 7 * 86400))


class ApprovalsSchema(ma.Schema):
    ttl_hours = fields.Float(required=True, validate=validate.Range(0.01, 24 * 365))


class UiSchema(ma.Schema):
    session_hours = fields.Float(required=True, validate=validate.Range(0.01, 24 * 30))


SECTIONS: dict[str, type[ma.Schema]] = {
    "server": ServerSchema,
    "database": DatabaseSchema,
    "api": ApiSchema,
    "storage": StorageSchema,
    "criteria": CriteriaSchema,
    "webhook": WebhookSchema,
    "schedule": ScheduleSchema,
    "auth": AuthSchema,
    "ui": UiSchema,
    "report": ReportSchema,
    "approvals": ApprovalsSchema,
    "deploy": DeploySchema,
}


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(base: dict, layer: Mapping, origin: str) -> None:
    for section, values in layer.items():
        if section not in SECTIONS:
            raise ConfigError(f"{origin}: unknown config section '{section}'")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{origin}: '{section}' must be a table of keys")
        for key, value in values.items():
            if key not in base[section]:
                raise ConfigError(f"{origin}: unknown config key '{section}.{key}'")
            base[section][key] = value


def _from_environment(defaults: dict, environ: Mapping[str, str]) -> dict:
    layer: dict[str, dict] = {}
    if environ.get("DATABASE_URL"):
        layer.setdefault("database", {})["url"] = environ["DATABASE_URL"]
    if environ.get("MODELYARD_ADMIN_TOKEN"):
        layer.setdefault("auth", {})["admin_token"] = environ["MODELYARD_ADMIN_TOKEN"]
    for section, keys in defaults.items():
        for key in keys:
            name = f"MODELYARD_{section}_{key}".upper()
            if name in environ:
                layer.setdefault(section, {})[key] = environ[name]
    return layer


def _validate(merged: dict) -> dict:
    result = {}
    for section, schema in SECTIONS.items():
        try:
            result[section] = schema().load(merged[section])
        except ma.ValidationError as exc:
            key, messages = next(iter(exc.messages.items()))
            raise ConfigError(f"config key '{section}.{key}': {' '.join(map(str, messages))}") from None
    return result


def load_config(overrides: Mapping | None = None, environ: Mapping[str, str] | None = None) -> dict:
    """Build the validated configuration.

    Guarantees every section and key of defaults.toml is present with a valid value.
    Raises ConfigError naming the first unknown key or bad value.
    """
    environ = os.environ if environ is None else environ
    defaults = _read_toml(DEFAULTS_PATH)
    merged = copy.deepcopy(defaults)
    if environ.get("MODELYARD_CONFIG"):
        path = Path(environ["MODELYARD_CONFIG"])
        _merge(merged, _read_toml(path), str(path))
    _merge(merged, _from_environment(defaults, environ), "environment")
    _merge(merged, overrides or {}, "overrides")
    return _validate(merged)


def redact_url(url: str) -> str:
    """The URL with its password (if any) replaced, so host and database stay readable."""
    parts = urllib.parse.urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{REDACTED}@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def redacted(config: Mapping) -> dict:
    """A copy of the configuration with secret values replaced, safe to print or log."""
    shown = copy.deepcopy(dict(config))
    shown["database"]["url"] = redact_url(shown["database"]["url"])
    shown["report"]["smtp_url"] = redact_url(shown["report"]["smtp_url"])
    for section, key in SECRET_KEYS - {("database", "url"), ("report", "smtp_url")}:
        if shown.get(section, {}).get(key):
            shown[section][key] = REDACTED
    return shown
