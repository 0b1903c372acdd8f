#!/usr/bin/env bash
# bantin-secrets: the one-shot service that runs first (docker-compose.yml). Generates each secret once
# into the bantin-secrets volume and keeps it there: restarts and upgrades reuse it, nothing is defaulted
# and nothing is printed. Services mount the volume read-only and read the files (Airflow's *_CMD
# settings, PostgreSQL's POSTGRES_PASSWORD_FILE); the SMTP password is not here (it reaches
# airflow-init only, from the operator's .env).
#
#   fernet_key         encrypts connections and variables in Airflow's metadata DB
#   jwt_secret         signs the api-server's tokens (UI, workers' execution API)
#   api_secret_key     signs requests between Airflow components (task logs)
#   postgres_password  the metadata DB's password
#   admin_password     the UI login, in the SimpleAuthManager's password file (passwords.json)
set -euo pipefail

SECRETS="${BANTIN_SECRETS_DIR:-/run/bantin-secrets}"
ADMIN="${BANTIN_ADMIN_USER:-admin}"
AIRFLOW_UID="${AIRFLOW_UID:-50000}"
mkdir -p "${SECRETS}"
umask 077

make_secret() {  # name, python expression of the value
  local path="${SECRETS}/$1"
  if [[ ! -s "${path}" ]]; then
    python3 -c "import base64, os, secrets; print($2, end='')" > "${path}.new"
    mv "${path}.new" "${path}"
    echo "generated ${path}"
  fi
}

make_secret fernet_key "base64.urlsafe_b64encode(os.urandom(32)).decode()"
make_secret jwt_secret "secrets.token_urlsafe(48)"
make_secret api_secret_key "secrets.token_urlsafe(48)"
make_secret postgres_password "secrets.token_urlsafe(24)"
make_secret admin_password "secrets.token_urlsafe(16)"

# The SimpleAuthManager reads and writes its users' passwords in this file: on the volume it survives
# every container; the operator reads the password with
#   docker compose run --rm bantin-secrets cat /run/bantin-secrets/admin_password
python3 - "${SECRETS}/passwords.json" "${ADMIN}" "${SECRETS}/admin_password" <<'PY'
import json, sys
from pathlib import Path
path, user, password = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]).read_text().strip()
users = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
users.setdefault(user, password)
path.write_text(json.dumps(users) + "\n")
PY

# Airflow runs as AIRFLOW_UID (group 0), PostgreSQL as its own user: the files are group-readable
# by group 0, and the database password also by PostgreSQL (it re-reads it after dropping root).
chown -R "${AIRFLOW_UID}:0" "${SECRETS}"
chmod 0440 "${SECRETS}"/{fernet_key,jwt_secret,api_secret_key,admin_password}
chmod 0640 "${SECRETS}/passwords.json"  # the auth manager writes it when a password changes
chmod 0444 "${SECRETS}/postgres_password"
chmod 0755 "${SECRETS}"  # PostgreSQL (another uid) must reach postgres_password; the others are 0440/0640
