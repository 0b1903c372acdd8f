#!/usr/bin/env bash
# airflow-init: run once before the stack starts (docker-compose.yml), safe to run again.
# Prepares the volumes, migrates Airflow's metadata DB and writes the SMTP connection
# from the environment, so no secret lives in a file of the repository.
set -euo pipefail

mkdir -p "${BANTIN_HOME}"/{landing,archive,feedback,warehouse,bulletins,outbox} /opt/airflow/logs
chown -R "${AIRFLOW_UID:-50000}:0" "${BANTIN_HOME}" /opt/airflow/logs

run_as_airflow() { gosu "${AIRFLOW_UID:-50000}" "$@"; }

run_as_airflow airflow db migrate
run_as_airflow airflow version

if [[ -n "${SMTP_HOST:-}" ]]; then
  # The keys bantin.delivery.smtp_connection reads from the connection's extra.
  extra=$(printf '{"from_email": "%s", "starttls": %s, "ssl": %s}' \
    "${SMTP_FROM:-${SMTP_USER:-}}" "${SMTP_STARTTLS:-true}" "${SMTP_SSL:-false}")
  run_as_airflow airflow connections delete "${BANTIN_SMTP_CONN_ID:-smtp_default}" >/dev/null 2>&1 || true
  run_as_airflow airflow connections add "${BANTIN_SMTP_CONN_ID:-smtp_default}" \
    --conn-type smtp --conn-host "${SMTP_HOST}" --conn-port "${SMTP_PORT:-587}" \
    --conn-login "${SMTP_USER:-}" --conn-password "${SMTP_PASSWORD:-}" --conn-extra "${extra}"
  echo "SMTP connection ${BANTIN_SMTP_CONN_ID:-smtp_default} -> ${SMTP_HOST}:${SMTP_PORT:-587}"
else
  echo "SMTP_HOST not set: bulletins stay in ${BANTIN_HOME}/outbox until it is"
fi
