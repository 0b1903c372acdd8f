"""Play daily_bulletin's Deadline Alerts through Airflow's own machinery, in a process of its own.

    python fire_deadlines.py <logical date ISO>    (with AIRFLOW_HOME pointing at a migrated metadata DB)

What each component does, in order, with Airflow's code: the DAG processor
parses dags/ and stores the DAG (its DeadlineAlert rows included); the scheduler
creates a run (Airflow computes its deadlines) and, the deadlines being past,
calls Deadline.handle_miss, which queues each callback for the triggerer; the
triggerer instantiates the queued CallbackTrigger and runs it, which imports and
awaits our callback, and the callback records the events. Prints a JSON report.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime


def sync_dags() -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        assert not bag.import_errors, bag.import_errors
        sync_bag_to_db(bag, bundle.name, bundle.version)


def declared_alerts(session) -> list[dict]:
    from airflow.models.deadline_alert import DeadlineAlert
    from airflow.models.serialized_dag import SerializedDagModel
    from sqlalchemy import select

    serialized = SerializedDagModel.get("daily_bulletin", session=session)
    rows = session.scalars(select(DeadlineAlert).where(DeadlineAlert.serialized_dag_id == serialized.id)).all()
    return sorted(
        ({"name": r.name, "reference": r.reference, "interval": r.interval, "callback": r.callback_def} for r in rows),
        key=lambda r: r["interval"]["__data__"],
    )


async def _events(trigger) -> list:
    return [event async for event in trigger.run()]


def main(logical_iso: str) -> dict:
    from airflow._shared.module_loading import import_string
    from airflow.models import Deadline
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    sync_dags()
    logical = datetime.fromisoformat(logical_iso)
    report: dict = {}
    with create_session() as session:
        report["declared"] = declared_alerts(session)
        dag = SerializedDagModel.get_dag("daily_bulletin", session=session)
        run = dag.create_dagrun(
            run_id=f"scheduled__{logical_iso}",
            logical_date=logical,
            data_interval=(logical, logical),
            run_after=logical,
            run_type=DagRunType.SCHEDULED,
            triggered_by=DagRunTriggeredByType.TIMETABLE,
            state=DagRunState.RUNNING,
            session=session,
        )
        session.flush()
        report["run_id"] = run.run_id
        # the scheduler's loop: every unmissed deadline already past is handled
        for deadline in session.scalars(
            select(Deadline)
            .where(Deadline.dagrun_id == run.id)
            .where(Deadline.deadline_time < datetime.now(UTC))
            .where(~Deadline.missed)
        ):
            deadline.handle_miss(session)
        session.commit()
        deadlines = session.scalars(
            select(Deadline).where(Deadline.dagrun_id == run.id).order_by(Deadline.deadline_time)
        ).all()
        report["deadlines"] = [{"deadline_time": d.deadline_time.isoformat(), "missed": d.missed} for d in deadlines]
        # the triggerer: run each queued callback trigger, hand its events back to the callback row
        report["callbacks"] = []
        for deadline in deadlines:
            callback = deadline.callback
            trigger_row = callback.trigger
            trigger = import_string(trigger_row.classpath)(**trigger_row.kwargs)
            for event in asyncio.run(_events(trigger)):
                callback.handle_event(event, session)
            session.flush()
            report["callbacks"].append({"state": str(callback.state), "output": callback.output})
        session.commit()
        # leave the shared test metadata DB as found: the run goes, its deadlines and callbacks with it
        session.delete(run)
        session.commit()
    return report


if __name__ == "__main__":
    print("REPORT " + json.dumps(main(sys.argv[1]), default=str))
