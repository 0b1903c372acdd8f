"""docker-compose.yml as a department runs it: parsed, service by service (Docker cannot run here).

What is checked is what the file says each container gets: its volumes, its environment,
where its secrets come from. deploy/secrets.sh, which fills the secrets volume, is run for real,
and the commands Airflow runs to read each secret (`*_CMD`) are run the way Airflow runs them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess

import pytest
import yaml

from conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
AIRFLOW = [name for name in SERVICES if name.startswith("airflow-")]
SECRETS_DIR = "/run/bantin-secrets"
SECRET_SETTINGS = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
)


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def _volumes(service: str) -> dict[str, str]:
    """container path -> source (named volume or host path), with the options after the path dropped."""
    mounts = {}
    for entry in SERVICES[service].get("volumes", []):
        source, target = re.fullmatch(r"(\$\{[^}]*\}|[^:]+):([^:]+)(?::\w+)?", entry).groups()
        mounts[target] = source
    return mounts


def test_every_airflow_service_reads_its_secrets_from_the_generated_volume():
    assert set(AIRFLOW) >= {
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-worker",
        "airflow-triggerer",
        "airflow-init",
    }
    for service in AIRFLOW:
        env = _env(service)
        for setting in SECRET_SETTINGS:
            assert setting not in env, (service, setting)  # never a literal (nor a default) in the file
            assert SECRETS_DIR in env[f"{setting}_CMD"], (service, setting)
        assert _volumes(service)[SECRETS_DIR] == "bantin-secrets", service
    assert "bantin-secrets" in COMPOSE["volumes"]
    postgres = _env("postgres")
    assert "POSTGRES_PASSWORD" not in postgres and postgres["POSTGRES_PASSWORD_FILE"].startswith(SECRETS_DIR)
    assert _volumes("postgres")[SECRETS_DIR] == "bantin-secrets"
    # the secrets exist before anything reads them
    assert SERVICES["postgres"]["depends_on"]["bantin-secrets"]["condition"] == "service_completed_successfully"


def test_no_secret_has_a_default_anywhere_in_the_file():
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    defaults = re.findall(r"\$\{(\w*(?:PASSWORD|SECRET|FERNET|KEY)\w*):-([^}]*)\}", text)
    assert defaults == [("SMTP_PASSWORD", "")]  # the relay's password: empty unless the operator sets it
    assert "change-me" not in text


def test_the_smtp_password_reaches_airflow_init_only():
    holders = [s for s in SERVICES if any(k.startswith("SMTP_") for k in _env(s))]
    assert holders == ["airflow-init"]
    assert {"SMTP_HOST", "SMTP_PASSWORD", "SMTP_SECURITY"} <= set(_env("airflow-init"))


def test_the_login_survives_containers_and_the_data_root_is_on_the_host():
    for service in AIRFLOW:
        env = _env(service)
        passwords = env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
        assert passwords.startswith(SECRETS_DIR + "/") and _volumes(service)[SECRETS_DIR] == "bantin-secrets"
        # bulletins, the analysts' snapshot and Parquet, everything under BANTIN_HOME: a bind mount
        data_root = _volumes(service)[env["BANTIN_HOME"]]
        assert data_root.startswith(("./", "/", "${")), data_root
        assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == env["BANTIN_TIMEZONE"]


def test_secrets_are_generated_once_and_kept(tmp_path):
    env = {
        **os.environ,
        "BANTIN_SECRETS_DIR": str(tmp_path / "secrets"),
        "AIRFLOW_UID": str(os.getuid()),
        "BANTIN_ADMIN_USER": "quantri",
    }
    first = subprocess.run(["bash", str(REPO / "deploy" / "secrets.sh")], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    secrets = {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()}
    assert set(secrets) == {
        "fernet_key",
        "jwt_secret",
        "api_secret_key",
        "postgres_password",
        "admin_password",
        "passwords.json",
    }
    assert all(len(v) >= 16 for v in secrets.values())
    assert json.loads(secrets["passwords.json"]) == {"quantri": secrets["admin_password"]}
    assert secrets["admin_password"] not in first.stdout + first.stderr  # generated, never printed
    assert oct((tmp_path / "secrets" / "fernet_key").stat().st_mode & 0o777) == "0o440"

    again = subprocess.run(["bash", str(REPO / "deploy" / "secrets.sh")], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == ""
    assert {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()} == secrets

    # each *_CMD, run as Airflow runs it (shlex.split, no shell), prints the secret in place
    from cryptography.fernet import Fernet

    for setting in SECRET_SETTINGS:
        command = (
            _env("airflow-scheduler")[f"{setting}_CMD"]
            .replace("$$", "$")
            .replace(SECRETS_DIR, str(tmp_path / "secrets"))
        )
        value = subprocess.run(shlex.split(command), capture_output=True, text=True, check=True).stdout
        if "SQL_ALCHEMY_CONN" in setting or "RESULT_BACKEND" in setting:
            assert value.endswith(f"airflow:{secrets['postgres_password']}@postgres:5432/airflow"), value
        else:
            assert value in secrets.values()
    Fernet(secrets["fernet_key"].encode())  # a valid key


@pytest.mark.parametrize("library", ["libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-dejavu-core"])
def test_the_image_carries_what_the_bulletin_needs(library):
    assert library in (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")


def test_the_image_installs_the_bantin_cli_and_leaves_the_virtualenv_out():
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --no-cache-dir --no-deps -e /opt/bantin" in dockerfile and "bantin --help" in dockerfile
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".git", "var", "airflow_home", ".env"} <= set(ignored)
