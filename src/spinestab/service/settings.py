"""Settings of the web service (``SPINESTAB_*`` environment variables).

The service reads the same settings object as the CLI (data folder, database URL,
language) plus its own fields below; nothing in the service reads ``os.environ`` itself.
Security defaults follow OWASP ASVS 4.0.3 level 2 (V3 sessions, V2.2 throttling) [D].
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from spinestab.settings import Settings

__all__ = ["ServiceSettings", "get_service_settings"]


class ServiceSettings(Settings):
    """Settings of ``spinestab serve``.

    Every field can be set with ``SPINESTAB_<NAME>``, e.g. ``SPINESTAB_SECRET_KEY``.
    """

    secret_key: SecretStr | None = Field(
        default=None,
        description="Server secret (>= 32 characters). Without one, a random key is created in "
        "the data folder on first start; --production refuses to start without one.",
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, description="Idle timeout (ASVS 3.3.2 L2: 30 min)."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, description="Absolute session lifetime (ASVS 3.3.2 L2: 12 h)."
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins per account or address before a lockout."
    )
    login_window_minutes: int = Field(
        default=15, ge=1, description="Window in which failed logins are counted."
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, description="How long an account or address stays locked."
    )
    max_upload_mb: int = Field(default=512, ge=1, description="Largest accepted upload (MiB).")
    max_json_kb: int = Field(default=1024, ge=1, description="Largest accepted JSON body (KiB).")
    job_workers: int = Field(default=2, ge=0, description="Background analysis threads.")
    request_threads: int = Field(
        default=40,
        ge=1,
        description="Threads per worker process that run the routes (anyio's pool; 40 is its "
        "default). Fewer queue requests in order instead of letting them compete for the "
        "interpreter; too few let slow requests (a letter, an upload) hold up the rest.",
    )
    keepalive_requests: int = Field(
        default=20,
        ge=0,
        description="Requests served on one keep-alive connection before the server closes "
        "it (Connection: close; as nginx's keepalive_requests), so that with several worker "
        "processes connections move to the free one; 0: no limit.",
    )
    stopped_logging_days: int = Field(
        default=7,
        ge=1,
        description="Worklist: days without a logged session before a patient is "
        "listed as having stopped logging [D].",
    )
    live_sse_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Live prompts: a server-sent event connection closes after this long "
        "(the browser reconnects where it left off).",
    )
    live_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Live prompts: how often a connection also reads the record (prompts "
        "stored by another server process).",
    )
    production: bool = Field(default=False, description="Set by serve --production.")
    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id passes (RFC 9106).")
    argon2_memory_kib: int = Field(
        default=65536, ge=8, description="argon2id memory in KiB (RFC 9106 second choice: 64 MiB)."
    )


def get_service_settings() -> ServiceSettings:
    """Read the service settings from the environment now."""
    return ServiceSettings()
