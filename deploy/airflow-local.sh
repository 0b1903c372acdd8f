#!/usr/bin/env bash
# `make airflow`: Airflow on this machine for an operator — `airflow standalone` (api-server,
# scheduler, dag-processor, triggerer; LocalExecutor on SQLite, no containers) with the
# project's DAGs and data root. Watch runs, clear tasks, trigger runs and backfills from the UI.
# The Makefile exports AIRFLOW_HOME, AIRFLOW__CORE__DAGS_FOLDER and BANTIN_HOME.
set -euo pipefail

: "${AIRFLOW_HOME:?run through make airflow}"
BIN="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin"
export PATH="${BIN}:${PATH}"  # standalone starts its components as `airflow ...`
PORT="${AIRFLOW_PORT:-8080}"
USER_NAME="${AIRFLOW_ADMIN:-admin}"
PASSWORDS="${AIRFLOW_HOME}/simple_auth_manager_passwords.json.generated"

export AIRFLOW__API__PORT="${PORT}"
export AIRFLOW__API__BASE_URL="http://localhost:${PORT}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${USER_NAME}:admin"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True  # nothing runs until an operator says so
export AIRFLOW__CORE__DEFAULT_TIMEZONE="${BANTIN_TIMEZONE:-Asia/Ho_Chi_Minh}"  # naive CLI dates: the province's
# On demo data (`bantin demo-data` leaves ${BANTIN_HOME}/DEMO) the DAGs have no schedule: unpausing
# daily_bulletin would otherwise build today's bulletin over 2021 files. BANTIN_SCHEDULE=on overrides.
if [[ -z "${BANTIN_SCHEDULE:-}" && -e "${BANTIN_HOME}/DEMO" ]]; then
  export BANTIN_SCHEDULE=off
fi
export BANTIN_SCHEDULE="${BANTIN_SCHEDULE:-on}"

if [[ "${BANTIN_SCHEDULE}" == "off" ]]; then
  SCHEDULE_NOTE="off (BANTIN_SCHEDULE; demo data leaves it off): runs only when triggered, e.g.
            .venv/bin/airflow dags trigger daily_bulletin --conf '{\"report_date\": \"2021-10-19\"}'"
else
  SCHEDULE_NOTE="daily_bulletin at the cutoff, collect_submissions every 15 min (local time), once unpaused"
fi
if [[ -n "${AIRFLOW_LOCAL_DRY_RUN:-}" ]]; then  # tests: the settings Airflow would start with
  echo "BANTIN_SCHEDULE=${BANTIN_SCHEDULE}"
  echo "AIRFLOW__CORE__DEFAULT_TIMEZONE=${AIRFLOW__CORE__DEFAULT_TIMEZONE}"
  exit 0
fi

# The password is made here, once, so it can be printed before Airflow's own logs scroll past.
PASSWORD=$("${BIN}/python" - "${PASSWORDS}" "${USER_NAME}" <<'PY'
import json, secrets, sys
from pathlib import Path
path, user = Path(sys.argv[1]), sys.argv[2]
passwords = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
passwords.setdefault(user, secrets.token_urlsafe(12))
path.write_text(json.dumps(passwords) + "\n")
path.chmod(0o600)
print(passwords[user])
PY
)

cat <<MSG

  bantin on Airflow (standalone, SQLite: for one machine; docker-compose.yml scales out)
  UI        http://localhost:${PORT}
  log in    user ${USER_NAME}, password ${PASSWORD}
            (kept in ${PASSWORDS})
  DAGs      ${AIRFLOW__CORE__DAGS_FOLDER}   (paused at first: unpause them in the UI)
  schedule  ${SCHEDULE_NOTE}
  data      ${BANTIN_HOME}
  backfill  UI: daily_bulletin → Trigger → Backfill, or
            .venv/bin/airflow backfill create --dag-id daily_bulletin --max-active-runs 1 --from-date 2021-10-01 --to-date 2021-10-19T17:00:00+07:00
  stop      Ctrl-C

MSG
exec "${BIN}/airflow" standalone
