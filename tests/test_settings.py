"""Settings: wrong values fail at start-up with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


def test_defaults_run_offline_with_the_outbox():
    settings = load_settings()
    assert settings.transport == "outbox"
    assert settings.payment_link("A-1") == "https://pay.acme.example/a/A-1"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("DUNNING_TEMPORAL_ADDRESS", "no-port", "DUNNING_TEMPORAL_ADDRESS"),
        ("DUNNING_TRANSPORT", "carrier-pigeon", "DUNNING_TRANSPORT"),
        ("DUNNING_DEV_SERVER_PORT", "99999", "DUNNING_DEV_SERVER_PORT"),
        ("DUNNING_PAYMENT_LINK_TEMPLATE", "https://pay/", "DUNNING_PAYMENT_LINK_TEMPLATE"),
        ("DUNNING_DEFAULT_LOCALE", "xx-nope", "DUNNING_DEFAULT_LOCALE"),
        ("DUNNING_TEMPORAL_TLS_CERT", "/tmp/cert.pem", "DUNNING_TEMPORAL_TLS_KEY"),
    ],
)
def test_a_wrong_setting_names_its_variable(monkeypatch, variable, value, named):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_production_refuses_the_example_payment_link(monkeypatch):
    monkeypatch.setenv("DUNNING_ENVIRONMENT", "production")
    monkeypatch.setenv("DUNNING_LINK_SECRET", "a-real-secret")
    monkeypatch.setenv("DUNNING_PAYMENTS_WEBHOOK_SECRET", "another-real-secret")
    with pytest.raises(SettingsError, match="DUNNING_PAYMENT_LINK_TEMPLATE"):
        load_settings()


def test_production_refuses_the_development_link_secret(monkeypatch):
    monkeypatch.setenv("DUNNING_ENVIRONMENT", "production")
    monkeypatch.setenv("DUNNING_PAYMENT_LINK_TEMPLATE", "https://pay.acme.com/{account_id}")
    with pytest.raises(SettingsError, match="DUNNING_LINK_SECRET"):
        load_settings()


def test_production_refuses_the_development_payments_secret(monkeypatch):
    monkeypatch.setenv("DUNNING_ENVIRONMENT", "production")
    monkeypatch.setenv("DUNNING_LINK_SECRET", "a-real-secret")
    monkeypatch.setenv("DUNNING_PAYMENT_LINK_TEMPLATE", "https://pay.acme.com/{account_id}")
    monkeypatch.setenv("DUNNING_PUBLIC_BASE_URL", "https://hooks.acme.com")
    with pytest.raises(SettingsError, match="DUNNING_PAYMENTS_WEBHOOK_SECRET"):
        load_settings()


def test_live_transport_names_every_missing_credential(monkeypatch):
    monkeypatch.setenv("DUNNING_TRANSPORT", "live")
    monkeypatch.setenv("DUNNING_SENDGRID_API_KEY", "SG.x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "DUNNING_TWILIO_ACCOUNT_SID" in message and "DUNNING_TWILIO_AUTH_TOKEN" in message
    assert "DUNNING_TWILIO_FROM or DUNNING_TWILIO_MESSAGING_SERVICE_SID" in message
    assert "DUNNING_SENDGRID_API_KEY" not in message
    assert "DUNNING_LINK_SECRET" in message  # the public development value would do otherwise


def test_production_needs_an_https_public_url(monkeypatch):
    monkeypatch.setenv("DUNNING_ENVIRONMENT", "production")
    monkeypatch.setenv("DUNNING_LINK_SECRET", "a-real-secret")
    with pytest.raises(SettingsError, match="DUNNING_PUBLIC_BASE_URL"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DUNNING_TWILIO_FROM", "0612345678"),
        ("DUNNING_SENDGRID_API_HOST", "api.eu.sendgrid.com"),
        ("DUNNING_TWILIO_API_BASE_URL", "ftp://x"),
        ("DUNNING_PUBLIC_BASE_URL", "localhost:8000"),
    ],
)
def test_provider_settings_are_checked(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_provider_urls_lose_their_trailing_slash():
    settings = load_settings(public_base_url="https://abc.ngrok.app/")
    assert settings.public_base_url == "https://abc.ngrok.app"


def test_settings_come_from_a_dotenv_file(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("DUNNING_TASK_QUEUE=from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().task_queue == "from-dotenv"


def test_the_database_url_is_a_secret_and_names_a_known_database():
    settings = load_settings(database_url="postgresql://dunning:hunter2@db:5432/dunning")
    assert settings.store_url == "postgresql://dunning:hunter2@db:5432/dunning"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert load_settings(data_dir=Path("/srv/d")).store_url == "sqlite:////srv/d/dunning.sqlite3"
    with pytest.raises(SettingsError, match="DUNNING_DATABASE_URL"):
        load_settings(database_url="mysql://x@y/z")
    with pytest.raises(SettingsError, match="DUNNING_SENDGRID_PROCESSED_WAIT_SECONDS"):
        load_settings(sendgrid_processed_wait_seconds=0)
