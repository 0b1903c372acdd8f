"""The Director's sign-off inside `daily_bulletin`: Airflow 3's human-in-the-loop operator.

`DirectorSignoff` asks, after the marts are built, for a decision on the
computed levels (Airflow UI → Required actions, or the REST API
`PATCH /api/v2/dags/daily_bulletin/dagRuns/{run_id}/taskInstances/director_signoff/-1/hitlDetails`):
approve, or declare other levels for some units with a reason. The run waits
in Airflow's `awaiting_input` state (no worker slot held) until the answer,
or until the sign-off time of the report date (BANTIN_SIGNOFF_BY, 19:00 by
default, before the 20:00 deadline): then the scheduler picks the default,
"decide later", and the bulletin goes out marked "cấp độ đề xuất, chưa phê
duyệt"; a later `bantin levels approve|override` makes the new version.

It does not wait at all when BANTIN_SIGNOFF=skip (or the run's `signoff`
param says skip: `make demo` and `airflow dags test`, which cannot answer a
human-in-the-loop request), when a decision for the date is already recorded
(from the terminal), or when the sign-off time has passed (a backfill).

The decision is recorded by bantin.signoff, the same code `bantin levels` uses.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param

from bantin import signoff

log = logging.getLogger(__name__)


class DirectorSignoff(HITLOperator):
    def __init__(self, **kwargs) -> None:
        kwargs.pop("params", None)  # the DAG's params reach the task through the context, not the form
        super().__init__(
            subject="Phê duyệt cấp độ dịch",  # the report date is added when the request is made
            body="(chi tiết được điền khi yêu cầu được tạo)",
            options=list(signoff.OPTIONS),
            defaults=[signoff.LATER_OPTION],  # what the scheduler chooses when the sign-off time passes
            params={
                "dieu_chinh": Param(
                    "",
                    type=["null", "string"],
                    title="Điều chỉnh (chỉ khi công bố cấp khác)",
                    description="Ví dụ: tỉnh=2; huyện 193=3; xã 6655=2",
                ),
                "ly_do": Param(
                    "", type=["null", "string"], title="Lý do", description="Bắt buộc khi công bố cấp khác cấp đề xuất"
                ),
                "nguoi_quyet_dinh": Param(
                    "",
                    type=["null", "string"],
                    title="Người quyết định",
                    description="Họ tên, chức vụ (mặc định: tài khoản trả lời)",
                ),
            },
            **kwargs,
        )

    # ------------------------------------------------------------------ asking

    def execute(self, context) -> Any:
        from bantin import store
        from bantin.config import load_settings

        settings = load_settings()
        report_date = _report_date(context, settings)
        mode = context["params"].get("signoff") or settings.signoff
        with store.writer(settings) as con:
            decided = signoff.has_decision(con, report_date)
            body = signoff.request_body(con, report_date)
        wait = signoff.wait_for(settings, report_date, datetime.now(UTC), context["params"].get("signoff_wait_minutes"))
        if mode == "skip" or decided or wait.total_seconds() <= 0:
            why = (
                "skip"
                if mode == "skip"
                else "decision already recorded"
                if decided
                else f"sign-off time {settings.signoff_by:%H:%M} of {report_date} has passed"
            )
            log.info("sign-off of %s: not waiting (%s)", report_date, why)
            return {"report_date": report_date.isoformat(), "waited": False, "why": why}
        self.response_timeout = wait
        self.body = body
        self.subject = f"Phê duyệt cấp độ dịch ngày {report_date:%d/%m/%Y} / Sign-off of the epidemic levels"
        log.info("sign-off of %s: waiting up to %s for the Director", report_date, wait)
        return super().execute(context)

    # ------------------------------------------------------------------ the answer

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        from bantin.config import load_settings

        answer = super().execute_complete(context, event)  # checks options and params; raises on errors
        settings = load_settings()
        responded_at = answer.get("responded_at")
        if responded_at is not None and not isinstance(responded_at, datetime):
            responded_at = datetime.fromisoformat(str(responded_at))
        return signoff.record_answer(
            settings,
            _report_date(context, settings),
            chosen=answer["chosen_options"][0],
            params=answer.get("params_input") or {},
            user=answer.get("responded_by_user") or {},
            responded_at=responded_at,
        )


def _report_date(context, settings):
    from bantin.pipeline import report_date_of_run

    return report_date_of_run(context, settings)
