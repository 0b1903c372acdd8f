"""`make airflow` (deploy/airflow-local.sh) on demo data: no schedule, so unpausing cannot build today's date."""

from __future__ import annotations

import os
import subprocess

from bantin import cli

from conftest import REPO

SCRIPT = REPO / "deploy" / "airflow-local.sh"


def _settings_it_starts_with(home, **env) -> dict[str, str]:
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("BANTIN_")},
            "AIRFLOW_HOME": str(home / "airflow_home"),
            "BANTIN_HOME": str(home),
            "AIRFLOW_LOCAL_DRY_RUN": "1",
            **env,
        },
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def test_on_demo_data_the_dags_run_only_when_triggered(settings):
    assert _settings_it_starts_with(settings.home)["BANTIN_SCHEDULE"] == "on"  # a real data root: scheduled

    assert cli.main(["demo-data", "--start", "2021-10-19", "--end", "2021-10-19"]) == 0
    marker = settings.home / cli.DEMO_MARKER
    assert "report_date" in marker.read_text(encoding="utf-8")
    started = _settings_it_starts_with(settings.home)
    assert started == {"BANTIN_SCHEDULE": "off", "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh"}
    # an operator who wants the schedule on demo data says so
    assert _settings_it_starts_with(settings.home, BANTIN_SCHEDULE="on")["BANTIN_SCHEDULE"] == "on"
