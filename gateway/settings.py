"""Settings: the only reader of the environment (``GATEWAY_*``, ``HOST``, ``PORT``)."""

import re
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``15s``, ``5m``, ``2h`` or ``250ms`` (bare numbers are seconds)."""
    match = _DURATION.match(text)
    if match is None:
        msg = f"not a duration: {text!r} (use e.g. 15s, 5m, 2h)"
        raise ValueError(msg)
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


def parse_rate(text: str) -> tuple[int, float]:
    """``(requests, per_seconds)`` from a rate such as ``100/s`` or ``6000/m``."""
    count, _, per = text.partition("/")
    if not count.strip().isdigit() or not per:
        msg = f"not a rate: {text!r} (use e.g. 100/s or 6000/m)"
        raise ValueError(msg)
    return int(count), parse_duration(f"1{per.strip()}")


def listening_url(host: str, port: int) -> str:
    """``http://host:port`` for a listening address (all interfaces: this machine's loopback)."""
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104  (naming the wildcard, not binding it)
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Settings(BaseSettings):
    """Everything the gateway reads from its environment, validated once."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///.gateway/gateway.db"
    #: PostgreSQL schema to use instead of ``public`` (tests run each in a fresh one).
    database_schema: str = ""
    #: Comma-separated; the first key encrypts and signs, later ones only decrypt and verify (rotation).
    secret_key: SecretStr = SecretStr("")
    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("HOST", "GATEWAY_HOST"))
    port: int = Field(default=8000, validation_alias=AliasChoices("PORT", "GATEWAY_PORT"))
    #: Base of the links and webhook URLs handed out; unset, where ``gateway serve`` listens.
    public_url: str = Field(default_factory=lambda values: listening_url(values["host"], values["port"]))
    presets_dir: Path = Path("presets")
    data_dir: Path = Path(".gateway")
    stripe_api_base: str = "https://api.stripe.com"
    #: One Stripe call attempt; the SDK retries twice, so a builder hears back within about 3x this.
    stripe_timeout: float = Field(default=8.0, gt=0)
    allow_private_callbacks: bool = False
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = (
        5.0,
        300.0,
        1800.0,
        7200.0,
        18000.0,
        36000.0,
        36000.0,
    )
    delivery_timeout: float = 15.0
    #: How long a claimed delivery stays leased to its worker (0: the timeout plus 30 s).
    delivery_lease: float = 0.0
    worker: Literal["embedded", "off"] = "embedded"
    #: Serve ``/metrics`` on this port only (a private one), not on the API's; 0: on the API's port.
    metrics_port: int = 0
    #: Attempts in flight at once in one worker (``gateway worker --concurrency`` overrides it).
    worker_concurrency: int = Field(default=50, ge=1, le=1000)
    #: Per API key: sustained requests per period, with a burst of the same size.
    rate_limit: Annotated[tuple[int, float], NoDecode] = (100, 1.0)

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        # Fly and Heroku hand out libpq-style URLs; the gateway talks asyncpg.
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value.removeprefix(prefix)
        return value

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(parse_duration(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("delivery_timeout", "delivery_lease", "stripe_timeout", mode="before")
    @classmethod
    def _parse_timeout(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _parse_rate(cls, value: object) -> object:
        return parse_rate(value) if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _require_production_secrets(self) -> "Settings":
        if self.env == "production" and len(self.secret_key.get_secret_value()) < 32:  # noqa: PLR2004
            msg = "GATEWAY_SECRET_KEY must be set to at least 32 characters when GATEWAY_ENV=production"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _lease_outlasts_timeout(self) -> "Settings":
        if self.delivery_lease and self.delivery_lease <= self.delivery_timeout:
            msg = "GATEWAY_DELIVERY_LEASE must be longer than GATEWAY_DELIVERY_TIMEOUT"
            raise ValueError(msg)
        return self

    @property
    def delivery_lease_s(self) -> float:
        """Seconds a claimed delivery is leased: longer than an attempt can take, so none is sent twice."""
        return self.delivery_lease or self.delivery_timeout + 30.0

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (one writer, one worker)."""
        return self.database_url.startswith("sqlite")

    def secret_keys(self) -> list[str]:
        """The secret keys, newest first; in development one is generated once under ``data_dir``."""
        keys = [k.strip() for k in self.secret_key.get_secret_value().split(",") if k.strip()]
        if keys:
            return keys
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
            path.chmod(0o600)
        return [path.read_text(encoding="utf-8").strip()]


def configuration_problems(exc: ValidationError) -> list[str]:
    """What the environment got wrong, a line each, named by its variable (never echoing a value)."""
    problems = []
    for error in exc.errors(include_input=False):
        if error["type"] == "default_factory_not_called":  # follows from a problem listed anyway
            continue
        message = error["msg"].removeprefix("Value error, ")
        name = str(error["loc"][0]) if error["loc"] else ""
        if name and not name.isupper():  # a field's name, not the alias it was given as (PORT)
            name = f"GATEWAY_{name.upper()}"
        problems.append(f"{name}: {message}" if name else message)
    return problems
