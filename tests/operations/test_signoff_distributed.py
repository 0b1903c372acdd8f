"""The Director's sign-off on a running Airflow: scheduler, api-server, Celery worker (tests/operations/local_stack.py).

Three `daily_bulletin` runs wait in Airflow's `awaiting_input` state after the
marts are built, and are answered through the human-in-the-loop REST API, the
one the UI's "Required actions" page uses (a real token from the api-server,
no database rows written by the test):
- 17/10: approved → the bulletin is delivered with the levels approved;
- 18/10: overridden (the province declared at 2, computed 1, with a reason) →
  both levels shown;
- 19/10: no answer by the run's sign-off time → the scheduler takes the
  default, the bulletin goes out "cấp độ đề xuất, chưa phê duyệt"; the
  Director's later decision (`bantin levels approve`) makes version 2.

Slow: `make test-distributed` (BANTIN_TEST_DISTRIBUTED=1) runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bantin import signoff

from .local_stack import BIN, LocalStack
from conftest import copy_receipts

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.skipif(
        not os.environ.get("BANTIN_TEST_DISTRIBUTED"), reason="distributed stack test: run with `make test-distributed`"
    ),
]

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST_FILE_DAY = date(2021, 10, 11)  # the 7-day windows of 17–19/10 complete
LOGICAL = "{day}T10:00:00+00:00"  # 17:00 local: the scheduled run's logical date
DIRECTOR = "Giám đốc Sở Y tế"


@pytest.fixture(scope="module")
def stack(demo_landing_template, tmp_path_factory):
    """The running stack, and a data root with 11–19/10 in the inboxes, loaded (the runs then only wait)."""
    home = tmp_path_factory.mktemp("signoff") / "var"
    for path in demo_landing_template.rglob("*"):
        if path.is_file() and datetime.fromtimestamp(path.stat().st_mtime, LOCAL).date() >= FIRST_FILE_DAY:
            target = home / "landing" / path.relative_to(demo_landing_template)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    copy_receipts(demo_landing_template, home / "landing")  # receipt times: the demo channel's, not mtimes
    env = {**os.environ, "BANTIN_HOME": str(home), "BANTIN_PROVINCE": "22"}
    loading = subprocess.Popen(
        [str(BIN / "bantin"), "run", "--start", FIRST_FILE_DAY.isoformat(), "--end", "2021-10-19", "--load-only"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with LocalStack(home, keep_logs=tmp_path_factory.mktemp("signoff-logs")) as running:
            output, _ = loading.communicate(timeout=900)
            assert loading.returncode == 0, output.decode(errors="replace")[-3000:]
            running.bantin_home = home
            running.cli_env = env
            running.wait_for_dag("daily_bulletin")
            running.airflow("dags", "unpause", "daily_bulletin")
            yield running
    finally:
        if loading.poll() is None:
            loading.kill()
            loading.wait()


def _trigger(stack, day: date, wait_minutes: float) -> str:
    run_id = f"signoff__{day}"
    stack.airflow(
        "dags",
        "trigger",
        "daily_bulletin",
        "--run-id",
        run_id,
        "--logical-date",
        LOGICAL.format(day=day),
        "--conf",
        json.dumps({"signoff": "wait", "signoff_wait_minutes": wait_minutes}),
    )
    return run_id


def _state(stack, run_id: str, task_id: str = "director_signoff") -> str | None:
    rows = stack.query(
        "SELECT state FROM task_instance WHERE dag_id = 'daily_bulletin' AND run_id = %s AND task_id = %s",
        (run_id, task_id),
    )
    return rows[0][0] if rows else None


def _wait_for_state(stack, run_id: str, wanted: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        if _state(stack, run_id) == wanted:
            return
        time.sleep(2)
    raise TimeoutError(
        f"director_signoff of {run_id} never {wanted}: {_state(stack, run_id)}\n"
        f"{stack.task_logs('daily_bulletin', run_id, state='failed')}\n{stack.logs('celery-worker')}"
    )


def _api(stack, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports['api']}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def _token(stack) -> str:
    """Log in as the Airflow admin, as the Director's account would (the password the api-server generated)."""
    passwords = json.loads((stack.root / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
    return _api(stack, "POST", "/auth/token", {"username": "admin", "password": passwords["admin"]})["access_token"]


def _answer(stack, run_id: str, option: str, **params) -> dict:
    path = f"/api/v2/dags/daily_bulletin/dagRuns/{run_id}/taskInstances/director_signoff/-1/hitlDetails"
    token = _token(stack)
    request = _api(stack, "GET", path, token=token)  # what the Director reads before deciding
    assert request["options"] == signoff.OPTIONS and "Cấp độ dịch đề xuất ngày" in request["body"]
    answer = {"dieu_chinh": "", "ly_do": "", "nguoi_quyet_dinh": "", **params}
    return _api(stack, "PATCH", path, {"chosen_options": [option], "params_input": answer}, token=token)


def _finished(stack, run_id: str) -> None:
    runs = stack.wait_for_runs("daily_bulletin", 1, timeout=600, run_id=run_id)
    states = dict(
        stack.query(
            "SELECT task_id, state FROM task_instance WHERE dag_id = 'daily_bulletin' AND run_id = %s", (run_id,)
        )
    )
    assert [r[2] for r in runs] == ["success"], f"{states}\n{stack.task_logs('daily_bulletin', run_id)}"


def _bulletin(stack, day: date, version: str = "latest") -> dict:
    return json.loads(
        (stack.bantin_home / "bulletins" / day.isoformat() / version / "bulletin.json").read_text(encoding="utf-8")
    )


def _delivered(stack, day: date) -> list:
    """The delivered versions of the day (their copies in the outbox, written before the e-mail)."""
    return sorted((stack.bantin_home / "outbox" / day.isoformat()).glob("v*.eml"))


def test_a_run_waits_is_approved_through_the_api_and_delivers(stack):
    day = date(2021, 10, 17)
    run_id = _trigger(stack, day, wait_minutes=20)
    _wait_for_state(stack, run_id, "awaiting_input")
    assert _state(stack, run_id, "render_bulletin") in (None, "none", "scheduled")  # nothing went out yet
    response = _answer(stack, run_id, signoff.APPROVE_OPTION, nguoi_quyet_dinh=DIRECTOR)
    assert response["chosen_options"] == [signoff.APPROVE_OPTION]
    _finished(stack, run_id)
    figures = _bulletin(stack, day)["figures"]
    assert figures["signoff"]["status"] == "approved" and figures["signoff"]["decided_by"] == DIRECTOR
    province = figures["province"]["level"]
    assert province["declared_level"] == province["computed_level"] == 1 and not province["differs"]
    assert _delivered(stack, day), "the approved bulletin was delivered (outbox copy)"


def test_an_override_through_the_api_shows_declared_and_computed(stack):
    day = date(2021, 10, 18)
    run_id = _trigger(stack, day, wait_minutes=20)
    _wait_for_state(stack, run_id, "awaiting_input")
    _answer(stack, run_id, signoff.OVERRIDE_OPTION, dieu_chinh="tỉnh=2", ly_do="Ổ dịch mới ở Hạ Long")
    _finished(stack, run_id)
    document = _bulletin(stack, day)
    province = document["figures"]["province"]["level"]
    assert (province["level"], province["declared_level"], province["computed_level"]) == (2, 2, 1)
    assert document["figures"]["signoff"]["status"] == "overridden"
    assert document["figures"]["signoff"]["decided_by"] == "admin"  # the account that answered
    html = (stack.bantin_home / "bulletins" / day.isoformat() / "latest" / "bulletin.html").read_text("utf-8")
    assert "(đề xuất: cấp 1)" in html and "Toàn tỉnh: công bố cấp 2, đề xuất cấp 1" in html


def test_no_decision_by_the_signoff_time_goes_out_provisional_then_the_decision_makes_v2(stack):
    day = date(2021, 10, 19)
    run_id = _trigger(stack, day, wait_minutes=0.5)
    _wait_for_state(stack, run_id, "awaiting_input")
    _finished(stack, run_id)  # the scheduler's timeout sweep answers with the default
    first = _bulletin(stack, day, "v1")
    assert first["figures"]["signoff"] == {"status": "provisional", "label": "cấp độ đề xuất, chưa phê duyệt"}
    html = (stack.bantin_home / "bulletins" / day.isoformat() / "v1" / "bulletin.html").read_text("utf-8")
    assert "Cấp độ đề xuất, chưa phê duyệt:" in html
    assert _delivered(stack, day)

    result = subprocess.run(
        [str(BIN / "bantin"), "levels", "approve", "--date", day.isoformat(), "--by", DIRECTOR],
        env=stack.cli_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    second = _bulletin(stack, day, "v2")
    assert second["figures"]["signoff"]["status"] == "approved"
    assert "Cấp độ công bố toàn tỉnh: chưa phê duyệt → 1" in second["changes_from_previous"]
