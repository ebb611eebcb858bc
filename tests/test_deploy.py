"""deploy/: every setting it names exists, compose.yaml is sound, and its configuration starts.

No Docker here: the files are read as text and YAML, and the app's environment that compose
would give a worker is loaded through the real `Settings`, in production with live sends.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from config.settings import ENV_PREFIX, PROJECT_ROOT, Settings, SettingsError, load_settings

DEPLOY = PROJECT_ROOT / "deploy"
SETTING = re.compile(r"DUNNING_[A-Z_]+")
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z_]+)(?::?(?P<op>[-?])(?P<rest>[^}]*))?\}")
APP_SERVICES = {"db-upgrade", "housekeeping-schedule", "worker", "webhooks"}
# What compose's own variables (passwords, versions, replicas) are set to for these tests.
COMPOSE_VARIABLES = {"STORE_DB_PASSWORD": "store-password", "TEMPORAL_DB_PASSWORD": "t-password"}


def deploy_files() -> list[Path]:
    return sorted(path for path in DEPLOY.rglob("*") if path.is_file())


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def interpolate(value: str) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}`, from COMPOSE_VARIABLES."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match["name"], match["op"], match["rest"]
        if name in COMPOSE_VARIABLES:
            return COMPOSE_VARIABLES[name]
        assert op != "?", f"compose requires {name}: add it to COMPOSE_VARIABLES"
        return rest if op == "-" else ""

    return INTERPOLATION.sub(one, value)


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def app_environment(service: str) -> dict[str, str]:
    """The DUNNING_* environment compose gives a service: its env files, then `environment`."""
    definition = compose()["services"][service]
    values: dict[str, str] = {}
    for entry in definition.get("env_file", []):
        path = entry["path"] if isinstance(entry, dict) else entry
        values |= env_file(DEPLOY / f"{path}.example")
    for name, value in (definition.get("environment") or {}).items():
        values[name] = interpolate(str(value))
    return values


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DUNNING_* from the test's environment and no .env file reach `Settings`."""
    import os

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_every_setting_named_in_deploy_is_a_field_of_settings():
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    named = {
        (path.relative_to(DEPLOY).as_posix(), name)
        for path in deploy_files()
        for name in SETTING.findall(path.read_text(encoding="utf-8"))
    }
    assert named, "deploy/ names no setting at all"
    unknown = sorted((file, name) for file, name in named if name not in fields)
    assert unknown == []


def test_compose_runs_temporal_both_databases_the_app_roles_and_a_proxy():
    services = compose()["services"]
    assert {"temporal-db", "temporal", "store-db", "proxy", *APP_SERVICES} <= set(services)
    commands = {name: services[name]["command"] for name in APP_SERVICES}
    assert commands == {
        "db-upgrade": ["db", "upgrade"],
        "housekeeping-schedule": ["housekeeping", "schedule"],
        "worker": ["worker"],
        "webhooks": ["webhooks"],
    }
    for command in commands.values():  # each is a real command of the CLI
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
    for role in ("worker", "webhooks"):
        assert interpolate(str(services[role]["deploy"]["replicas"])) == "2"
        assert services[role]["depends_on"]["db-upgrade"] == {
            "condition": "service_completed_successfully"
        }
    assert "temporalio/server" in services["temporal"]["image"]
    assert services["temporal"]["environment"]["POSTGRES_SEEDS"] == "temporal-db"
    for mounted in ("./nginx.conf", "./temporal"):
        assert (DEPLOY / mounted).exists(), mounted
    assert "server webhooks:8000" in (DEPLOY / "nginx.conf").read_text(encoding="utf-8")


def test_the_app_roles_use_the_stores_postgresql_and_migrate_only_in_db_upgrade():
    for service in APP_SERVICES:
        environment = app_environment(service)
        assert environment["DUNNING_DATABASE_URL"] == (
            "postgresql://dunning:store-password@store-db:5432/dunning"
        )
        assert environment["DUNNING_DATABASE_AUTO_MIGRATE"] == "false"
        assert environment["DUNNING_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert app_environment("webhooks")["DUNNING_WEBHOOK_HOST"] == "0.0.0.0"


def test_the_required_live_settings_are_all_set(isolated):
    with pytest.raises(SettingsError) as refused:
        load_settings(transport="live")
    required = set(SETTING.findall(str(refused.value)))
    # Either sender of SMS will do; the example sets the number.
    required.discard(f"{ENV_PREFIX}TWILIO_MESSAGING_SERVICE_SID")
    assert f"{ENV_PREFIX}SENDGRID_API_KEY" in required and len(required) >= 5
    for service in ("worker", "webhooks"):
        missing = required - set(app_environment(service))
        assert missing == set(), service


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_each_app_role_starts_with_the_compose_configuration(
    service: str, isolated, monkeypatch: pytest.MonkeyPatch
):
    """Production with live sends: every placeholder and credential check passes."""
    for name, value in app_environment(service).items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.environment, settings.transport) == ("production", "live")
    assert settings.store_url.startswith("postgresql://")
    assert settings.database_auto_migrate is False


def test_the_image_installs_the_project_and_runs_dunning():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install" in dockerfile and 'ENTRYPOINT ["dunning"]' in dockerfile
    assert compose()["x-app"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
