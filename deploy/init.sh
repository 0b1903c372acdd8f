#!/usr/bin/env bash
# airflow-init: run once before the stack starts (docker-compose.yml), safe to run again.
# Prepares the data root (a bind mount: BANTIN_DATA_DIR on the host), migrates Airflow's
# metadata DB and writes the SMTP connection from the environment (deploy/smtp-connection.sh),
# so no secret lives in a file of the repository.
set -euo pipefail

mkdir -p "${BANTIN_HOME}"/{landing,archive,feedback,warehouse,bulletins,outbox} /opt/airflow/logs
chown -R "${AIRFLOW_UID:-50000}:0" "${BANTIN_HOME}" /opt/airflow/logs

run_as_airflow() { gosu "${AIRFLOW_UID:-50000}" "$@"; }

run_as_airflow airflow db migrate
run_as_airflow airflow version

if [[ -n "${SMTP_HOST:-}" ]]; then
  # The relay's password reaches this one-shot container only; the other services read the
  # connection (encrypted with the Fernet key) from the metadata DB.
  run_as_airflow bash /opt/bantin/deploy/smtp-connection.sh
else
  echo "SMTP_HOST not set: bulletins stay in ${BANTIN_HOME}/outbox until it is"
fi
