"""bantin's Airflow plugin: what Airflow's own processes must import from bantin.

The scheduler evaluates the DAG's deadline reference (`bantin.deadlines.ReportCutoff`)
and looks custom references up among plugins only. Registered as the entry point
`airflow.plugins` in pyproject.toml, so every Airflow installed with bantin
(`make airflow`, the Celery test stack, the compose image) loads it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from bantin.deadlines import ReportCutoff


class BantinPlugin(AirflowPlugin):
    name = "bantin"
    deadline_references = [ReportCutoff]
