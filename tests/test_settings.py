"""Settings read GATEWAY_* (and HOST/PORT), parse durations and refuse unsafe production setups."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import Settings, parse_duration


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing set, the documented defaults apply."""
    for name in ("GATEWAY_DATABASE_URL", "GATEWAY_RETRY_SCHEDULE", "GATEWAY_ENV", "GATEWAY_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    settings = Settings()
    assert settings.env == "development"
    assert settings.database_url == "sqlite+aiosqlite:///.gateway/gateway.db"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.retry_schedule == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert settings.delivery_timeout == 15
    assert settings.stripe_timeout == 8
    assert settings.worker == "embedded"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durations, rates, HOST/PORT and libpq-style URLs are parsed from the environment."""
    monkeypatch.setenv("GATEWAY_RETRY_SCHEDULE", "1s, 2m,3h")
    monkeypatch.setenv("GATEWAY_DELIVERY_TIMEOUT", "500ms")
    monkeypatch.setenv("GATEWAY_STRIPE_TIMEOUT", "3s")
    monkeypatch.setenv("GATEWAY_RATE_LIMIT", "600/m")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgres://u:p@db.internal:5432/gw")
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", "https://gw.example/")
    monkeypatch.setenv("PORT", "8080")
    settings = Settings()
    assert settings.retry_schedule == (1, 120, 10800)
    assert settings.delivery_timeout == 0.5
    assert settings.stripe_timeout == 3
    assert settings.rate_limit == (600, 60)
    assert settings.database_url == "postgresql+asyncpg://u:p@db.internal:5432/gw"
    assert settings.public_url == "https://gw.example"
    assert settings.port == 8080


@pytest.mark.parametrize(
    ("host", "port", "public_url"),
    [
        ("127.0.0.1", "9000", "http://127.0.0.1:9000"),
        ("0.0.0.0", "8080", "http://127.0.0.1:8080"),  # noqa: S104
        ("gw.local", "80", "http://gw.local:80"),
        ("::1", "9000", "http://[::1]:9000"),
    ],
)
def test_public_url_follows_host_and_port_when_unset(
    monkeypatch: pytest.MonkeyPatch, host: str, port: str, public_url: str
) -> None:
    """Without GATEWAY_PUBLIC_URL, handed-out links point where the gateway listens."""
    monkeypatch.delenv("GATEWAY_PUBLIC_URL", raising=False)
    monkeypatch.setenv("HOST", host)
    monkeypatch.setenv("PORT", port)
    assert Settings().public_url == public_url
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", "https://gw.example")
    assert Settings().public_url == "https://gw.example"


@pytest.mark.parametrize("bad", ["soon", "5 parsecs", ""])
def test_bad_duration_is_refused(bad: str) -> None:
    """A duration that cannot be read is an error, not a silent default."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_production_requires_a_secret_key() -> None:
    """GATEWAY_ENV=production refuses to start without a long GATEWAY_SECRET_KEY."""
    with pytest.raises(ValidationError, match="GATEWAY_SECRET_KEY"):
        Settings(env="production", secret_key="short")
    assert Settings(env="production", secret_key="k" * 32).secret_keys() == ["k" * 32]


def test_development_generates_a_secret_key_once(tmp_path: Path) -> None:
    """Without GATEWAY_SECRET_KEY, development generates one under the data folder and keeps it."""
    settings = Settings(data_dir=tmp_path, secret_key="")
    first = settings.secret_keys()
    assert first == Settings(data_dir=tmp_path, secret_key="").secret_keys()
    assert len(first[0]) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_rotation_lists_keys_newest_first() -> None:
    """A comma-separated GATEWAY_SECRET_KEY lists the current key first, then old ones."""
    assert Settings(secret_key="new, old").secret_keys() == ["new", "old"]
