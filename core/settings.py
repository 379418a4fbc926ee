"""Typed settings for every CivicFlow process, read from ``CIVICFLOW_*`` environment variables.

Nested groups use a double underscore: ``CIVICFLOW_DB__URL``, ``CIVICFLOW_EMAIL__BACKEND``.
A ``.env`` file in the working directory is read too; ``.env.example`` lists every setting.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DbSettings(BaseModel):
    """Database connection.

    Attributes:
        url: SQLAlchemy URL; ``sqlite:///var/civicflow.db`` (default) or
            ``postgresql+psycopg://user@host:5432/db``.
        busy_timeout_ms: SQLite busy handler wait, milliseconds.
        echo: log every SQL statement.
    """

    url: str = "sqlite:///var/civicflow.db"
    busy_timeout_ms: int = 15000
    echo: bool = False


class EmailSettings(BaseModel):
    """Outgoing email.

    Attributes:
        backend: ``file`` (writes .eml files), ``memory``, ``smtp`` or ``sendgrid``.
        from_address: the sender address of every message.
        smtp_host / smtp_port / smtp_starttls / smtp_username / smtp_password: SMTP relay.
        sendgrid_api_key / sendgrid_host: SendGrid v3 API credentials and base URL.
        sendgrid_webhook_public_key: ECDSA public key (base64) of the signed event webhook.
    """

    backend: str = "file"
    from_address: str = "civicflow@example.invalid"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str | None = None


class SmsSettings(BaseModel):
    """Outgoing SMS.

    Attributes:
        backend: ``file``, ``memory`` or ``twilio``.
        max_segments: largest number of SMS segments one message may use.
        default_region: ISO 3166 region used to read phone numbers written without ``+``.
        twilio_account_sid / twilio_auth_token / twilio_messaging_service_sid: Twilio account.
        status_callback_url: public URL Twilio posts delivery statuses to.
    """

    backend: str = "file"
    max_segments: int = 3
    default_region: str = "GB"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_messaging_service_sid: str | None = None
    status_callback_url: str | None = None


class PrefectSettings(BaseModel):
    """Orchestration.

    Attributes:
        api_url: a running Prefect server's API URL; empty = embedded temporary server.
        home: ``PREFECT_HOME`` for embedded runs (kept apart from the app database).
        email_rate_limit / sms_rate_limit: names of Prefect global concurrency limits that
            delivery takes a slot of before each email provider request / each SMS (shared
            by every worker; ``docs/scale-out.md``); None = not throttled.
    """

    api_url: str | None = None
    home: Path = Path("var/prefect")
    email_rate_limit: str | None = None
    sms_rate_limit: str | None = None


class AppSettings(BaseModel):
    """Participation app and links in messages.

    Attributes:
        base_url: public URL of the app, used in links inside messages.
        hooks_base_url: public URL of the webhook server (``civicflow hooks``) as providers
            call it; Twilio signs the exact URL it requests, so behind a proxy this is the
            proxy's address, not the internal one.
        secret_key: HMAC key for unsubscribe links and sign-in codes.
        outbox_dir: folder the ``file`` backends write messages into.
        report_dir: folder governance reports are written into.
        default_locale: ``en`` or ``fa``.
        default_time_zone: IANA zone for new consultations.
    """

    base_url: str = "http://localhost:8501"
    hooks_base_url: str = "http://localhost:8502"
    secret_key: SecretStr = SecretStr("change-me-in-production")
    outbox_dir: Path = Path("var/outbox")
    report_dir: Path = Path("var/reports")
    default_locale: str = "en"
    default_time_zone: str = "UTC"


class AuthSettings(BaseModel):
    """Limits on signing in.

    Attributes:
        staff_max_failures: wrong staff passwords in a row, for one username, that lock
            signing in with that username.
        staff_failure_window_minutes: failures count towards the limit only within this many
            minutes of the first of them; after that the count starts again.
        staff_lockout_minutes: how long a locked username is refused, minutes.
    """

    staff_max_failures: int = Field(default=5, ge=1)
    staff_failure_window_minutes: int = Field(default=15, ge=1)
    staff_lockout_minutes: int = Field(default=15, ge=1)


class Settings(BaseSettings):
    """All CivicFlow settings; see ``.env.example`` for every variable and its default."""

    model_config = SettingsConfigDict(
        env_prefix="CIVICFLOW_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    db: DbSettings = Field(default_factory=DbSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    prefect: PrefectSettings = Field(default_factory=PrefectSettings)
    app: AppSettings = Field(default_factory=AppSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once; ``get_settings.cache_clear()`` reloads)."""
    return Settings()
