"""Runtime settings: one typed object, read from `DUNNING_*` variables and an optional `.env`.

Why one class: the worker, the CLI and (later) the webhook server must agree on where Temporal
is, which task queue to use and who the creditor is. Reading the environment in one place means a
wrong value fails at start-up, naming the variable, instead of deep inside an activity.

Workflow code never imports this module: settings are machine state, not history.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV_PREFIX = "DUNNING_"
DEV_LINK_SECRET = "dev-only-link-secret"
DEV_PAYMENTS_SECRET = "dev-only-payments-secret"


class SettingsError(Exception):
    """Settings that cannot be used; the message names the variable."""


class Settings(BaseSettings):
    """Everything that changes between a laptop, a Temporal cluster and Temporal Cloud."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Literal["development", "production"] = "development"

    # Temporal: the same worker runs on the dev server, a cluster or Temporal Cloud.
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    task_queue: str = "dunning"

    # The embedded dev server of `dunning dev`.
    dev_server_port: int = Field(default=7233, ge=1, le=65535)
    dev_ui_port: int = Field(default=8233, ge=1, le=65535)

    # Files.
    data_dir: Path = PROJECT_ROOT / "data"
    ladders_dir: Path = PROJECT_ROOT / "config" / "ladders"
    templates_dir: Path = PROJECT_ROOT / "templates"
    default_locale: str = "en"

    # Who is owed: named in every message.
    creditor_name: str = "Acme Utilities"
    creditor_phone: str = "+1 415 555 0100"
    creditor_email: str = "billing@acme.example"
    creditor_address: str = "1 Market Street, San Francisco, CA 94105, US"
    creditor_hours: str = "Mon-Fri 9:00-17:00"
    payment_link_template: str = "https://pay.acme.example/a/{account_id}"

    # Where messages go. `outbox` writes one file per message under the data directory; `live`
    # sends email through SendGrid, SMS and voicemail through Twilio, and prints letters to PDF.
    transport: Literal["outbox", "live"] = "outbox"

    # SendGrid (email). The EU host serves EU regional subusers: https://api.eu.sendgrid.com
    sendgrid_api_key: SecretStr | None = None
    sendgrid_api_host: str = "https://api.sendgrid.com"
    email_from: str | None = None  # defaults to the creditor's email
    email_sends_per_second: float = Field(default=10.0, gt=0)

    # Twilio (SMS and voicemail calls). The base URL also selects a region or an edge,
    # e.g. https://api.dublin.ie1.twilio.com
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_from: str | None = None  # E.164 sender number (SMS and calls)
    twilio_messaging_service_sid: str | None = None  # SMS from a messaging service instead
    # Long codes take 1 message per second; raise it for short codes or toll-free numbers.
    twilio_sends_per_second: float = Field(default=1.0, gt=0)
    provider_timeout_seconds: float = Field(default=20.0, gt=0)

    # Where providers reach us: SMS/call status callbacks and the TwiML of voicemail calls.
    public_base_url: str = "http://localhost:8000"

    # Signs the one-click unsubscribe links in emails (and other links we hand out).
    link_secret: SecretStr = SecretStr(DEV_LINK_SECRET)

    # The webhook server (`dunning webhooks`, also started by `dunning dev`).
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8000, ge=1, le=65535)
    payments_webhook_secret: SecretStr = SecretStr(DEV_PAYMENTS_SECRET)  # HMAC key, POST /payments
    sendgrid_webhook_public_key: str | None = None  # Event Webhook verification key (base64)
    inbound_parse_secret: SecretStr | None = None  # ?key= or basic-auth password of Inbound Parse
    webhook_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    inbound_email_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # The ops console under /ops (inbound/ops/): off (404) unless a password hash or a token is
    # set. The hash is argon2 (`dunning ops hash-password`); the token is for scripts
    # (`Authorization: Bearer`) and is also accepted on the login form. The session secret signs
    # the session cookie (unset: a random one per process, so a restart logs everyone out).
    ops_password_hash: SecretStr | None = None
    ops_token: SecretStr | None = None
    ops_session_secret: SecretStr | None = None
    ops_session_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)

    # Letters: one dated print batch per day, a PDF per letter and a manifest for the mail house.
    letters_dir: Path | None = None  # defaults to <data_dir>/letters

    # The store every worker and webhook server shares: the send ledger, call scripts,
    # SendGrid's `processed` events, provider rate limits and every workflow id ever used.
    # Default: a SQLite file in the data directory (one machine, nothing to install);
    # production: postgresql://user:password@host:5432/dunning (see deploy/).
    database_url: SecretStr | None = None  # secret: the URL carries the password
    # Apply pending migrations when a process opens the store (`dunning db upgrade` does it by
    # hand; turn this off where ops run migrations as a release step).
    database_auto_migrate: bool = True
    # An email in doubt (SendGrid answered 5xx or not at all) waits this long for SendGrid's
    # `processed` event before it is sent again or recorded as unconfirmed.
    # At least 30 s: SendGrid posts events in batches, seconds to minutes after the fact.
    sendgrid_processed_wait_seconds: float = Field(default=600.0, ge=30)
    # A provider that refused our credentials is tried again after this long (keys get fixed).
    credentials_recheck_seconds: float = Field(default=300.0, gt=0)
    # Housekeeping (a Temporal Schedule): settled ledger rows, call scripts and SendGrid events
    # older than this are pruned; claims pending longer than stuck_claim_minutes are reported.
    store_retention_days: int = Field(default=90, ge=1)
    stuck_claim_minutes: int = Field(default=60, ge=1)
    housekeeping_every_hours: float = Field(default=24.0, gt=0)
    # Worker tuning (README "Performance" has the measured effect of each). The SDK's own
    # defaults; a worker's memory grows with the sticky cache (one cached workflow per open
    # account it recently ran), its CPU with the concurrent tasks.
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    # Run workflow code in Temporal's sandbox (catches a wall-clock read or a non-deterministic
    # import at run time). The tests always run it sandboxed.
    worker_sandbox: bool = True
    # `accounts import` (and `simulate`) start this many workflows at once (a round trip each).
    import_concurrency: int = Field(default=32, ge=1, le=1000)
    # Prometheus metrics (README "Metrics"): host:port of the worker's endpoint (the Temporal
    # SDK's own metrics and ours) and of the webhook server's, never its public port; "" = off.
    worker_metrics_address: str = "127.0.0.1:9464"
    webhook_metrics_address: str = "127.0.0.1:9465"

    @field_validator("worker_metrics_address", "webhook_metrics_address")
    @classmethod
    def _metrics_address(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if value.strip() and (not host or not port.isdigit() or not 0 < int(port) < 65536):
            raise ValueError("must be host:port, e.g. 127.0.0.1:9464, or empty (off)")
        return value.strip()

    @field_validator("temporal_address")
    @classmethod
    def _address_has_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("must be host:port, e.g. localhost:7233")
        return value

    @field_validator("sendgrid_api_host", "twilio_api_base_url", "public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("sqlite:///", "postgresql://", "postgres://")
        ):
            raise ValueError("must be sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB")
        return value

    @field_validator("twilio_from")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("+") and value[1:].isdigit()):
            raise ValueError("must be an E.164 number such as +14155550100")
        return value

    @field_validator("ops_password_hash")
    @classmethod
    def _argon2_hash(cls, value: SecretStr | None) -> SecretStr | None:
        """Parsed, not just prefix-checked: a hash cut short or with its `$` parts eaten by a
        shell (double quotes) would otherwise start the server and refuse every password."""
        if value is None:
            return value
        from argon2 import extract_parameters
        from argon2.exceptions import InvalidHashError

        text = value.get_secret_value()
        hint = (
            "make one with `dunning ops hash-password` and put it in single quotes (it "
            "contains `$`)"
        )
        if not text.startswith("$argon2"):
            raise ValueError(f"must be an argon2 hash: {hint}")
        try:
            parameters = extract_parameters(text)
        except InvalidHashError:
            raise ValueError(
                f"is not a complete argon2 hash (cut short or mis-quoted?): {hint}"
            ) from None
        if parameters.salt_len < 8 or parameters.hash_len < 16:
            raise ValueError(f"is an argon2 hash cut short (salt or hash too short): {hint}")
        return value

    @field_validator("ops_token", "ops_session_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("must be at least 24 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("payment_link_template")
    @classmethod
    def _link_names_account(cls, value: str) -> str:
        if "{account_id}" not in value:
            raise ValueError("must contain {account_id}")
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(value.replace("-", "_"))
        except (ValueError, UnknownLocaleError) as exc:
            raise ValueError(f"unknown locale {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _tls_pairs_and_secrets(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError(
                f"{ENV_PREFIX}TEMPORAL_TLS_CERT and {ENV_PREFIX}TEMPORAL_TLS_KEY go together"
            )
        if self.transport == "live":
            self._require_live_settings()
        if self.environment == "production":
            self._refuse_placeholders()
        return self

    def _refuse_placeholders(self) -> None:
        """Production refuses every development value at once, naming each variable."""
        problems = []
        if self.link_secret.get_secret_value() == DEV_LINK_SECRET:
            problems.append("LINK_SECRET must be set to a secret")
        if self.payments_webhook_secret.get_secret_value() == DEV_PAYMENTS_SECRET:
            problems.append("PAYMENTS_WEBHOOK_SECRET must be set to a secret")
        if not self.public_base_url.startswith("https://"):
            problems.append("PUBLIC_BASE_URL must be the https URL providers reach us at")
        if "example" in self.payment_link_template:
            problems.append("PAYMENT_LINK_TEMPLATE still points at the example domain")
        if problems:
            raise ValueError(
                "in production, " + "; ".join(f"{ENV_PREFIX}{problem}" for problem in problems)
            )

    def _require_live_settings(self) -> None:
        """Live sends need credentials for both providers; name every one that is missing."""
        missing = [
            name
            for name, value in (
                ("SENDGRID_API_KEY", self.sendgrid_api_key),
                ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
            )
            if not value
        ]
        if not (self.twilio_from or self.twilio_messaging_service_sid):
            missing.append("TWILIO_FROM or DUNNING_TWILIO_MESSAGING_SERVICE_SID")
        if self.link_secret.get_secret_value() == DEV_LINK_SECRET:
            # The development value is public: unsubscribe links could be forged with it.
            missing.append("LINK_SECRET (a secret of your own)")
        if missing:
            raise ValueError(
                "DUNNING_TRANSPORT=live needs "
                + ", ".join(f"{ENV_PREFIX}{name}" for name in missing)
            )

    @property
    def sender_email(self) -> str:
        return self.email_from or self.creditor_email

    @property
    def letters_path(self) -> Path:
        return self.letters_dir or self.data_dir / "letters"

    @property
    def store_url(self) -> str:
        """`database_url`, else the embedded SQLite file in the data directory."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'dunning.sqlite3'}"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def handoff_dir(self) -> Path:
        return self.data_dir / "handoff"

    def payment_link(self, account_id: str) -> str:
        return self.payment_link_template.format(account_id=account_id)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "settings"
        name = f"{ENV_PREFIX}{field.upper()}" if item["loc"] else "settings"
        lines.append(f"{name}: {item['msg']}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise SettingsError naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
