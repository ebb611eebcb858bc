"""Settings that point the live transports at the fake providers (shared by several tests)."""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings, load_settings
from tests.fakes.providers import FakeProviders

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "fake-auth-token"
SENDGRID_KEY = "SG.fake-key"
FROM = "+15005550006"
PUBLIC_URL = "https://dunning.example.org"
LINK_SECRET = "live-test-link-secret"


def live_settings(fake: FakeProviders, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "transport": "live",
        "data_dir": data_dir,
        "sendgrid_api_key": SENDGRID_KEY,
        "sendgrid_api_host": fake.url,
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_api_base_url": fake.url,
        "twilio_from": FROM,
        "public_base_url": PUBLIC_URL,
        "provider_timeout_seconds": 5,
        "link_secret": LINK_SECRET,
    }
    values.update(overrides)
    return load_settings(**values)
