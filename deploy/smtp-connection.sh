#!/usr/bin/env bash
# The SMTP connection bantin mails through, written from the environment into Airflow's metadata DB.
# Run by airflow-init (deploy/init.sh) as the airflow user; tests/delivery/test_deploy_smtp.py runs this
# very file against real SMTP servers. Safe to run again: the connection is replaced.
#
#   SMTP_HOST, SMTP_PORT (587)       the relay
#   SMTP_SECURITY (starttls)         starttls | ssl (implicit TLS, port 465) | none (plain, a relay on the LAN)
#   SMTP_USER, SMTP_PASSWORD         login, when the relay wants one (SMTP_PASSWORD_FILE: read from a file)
#   SMTP_FROM                        sender address (default: SMTP_USER)
#
# SmtpHook reads the extras `disable_tls` / `disable_ssl` (not `starttls` / `ssl`), and `retry_limit`:
# 0, because the Airflow task's retries (bantin/operations.py) are the one retry policy.
set -euo pipefail

conn_id="${BANTIN_SMTP_CONN_ID:-smtp_default}"
: "${SMTP_HOST:?SMTP_HOST is not set}"
security="${SMTP_SECURITY:-starttls}"
case "${security}" in
  starttls) disable_tls=false; disable_ssl=true;  default_port=587 ;;
  ssl)      disable_tls=true;  disable_ssl=false; default_port=465 ;;
  none)     disable_tls=true;  disable_ssl=true;  default_port=25 ;;
  *) echo "SMTP_SECURITY must be starttls, ssl or none (got '${security}')" >&2; exit 2 ;;
esac
port="${SMTP_PORT:-${default_port}}"
password="${SMTP_PASSWORD:-}"
if [[ -z "${password}" && -n "${SMTP_PASSWORD_FILE:-}" ]]; then
  password="$(<"${SMTP_PASSWORD_FILE}")"
fi
sender="${SMTP_FROM:-${SMTP_USER:-}}"

extra=$(python3 -c 'import json, sys
print(json.dumps({"from_email": sys.argv[1] or None, "disable_tls": sys.argv[2] == "true",
                  "disable_ssl": sys.argv[3] == "true", "timeout": 30, "retry_limit": 0}))' \
  "${sender}" "${disable_tls}" "${disable_ssl}")

airflow connections delete "${conn_id}" >/dev/null 2>&1 || true
airflow connections add "${conn_id}" \
  --conn-type smtp --conn-host "${SMTP_HOST}" --conn-port "${port}" \
  --conn-login "${SMTP_USER:-}" --conn-password "${password}" --conn-extra "${extra}" >/dev/null
echo "SMTP connection ${conn_id} -> ${SMTP_HOST}:${port} (${security})"
