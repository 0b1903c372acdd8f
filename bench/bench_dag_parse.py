"""P4: parsing each DAG file, as the dag-processor does, in a fresh process.

The processor has Airflow imported already; what each file costs is its own
imports plus building the DAG. So each child imports Airflow first (untimed),
then times `DagBag` on that one file. Medians of several fresh processes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile

from bench.common import REPO, child, verdict

TITLE = "P4 — parsing each DAG file"
LIMIT_S = 1.0
REPEAT = 5


def parse_dag_file(path: str) -> None:
    """Child: `DagBag` over one DAG file, timed after Airflow's own import; prints {seconds, dags} as JSON."""
    import time

    from airflow.dag_processing.dagbag import DagBag  # the processor's own import: not the file's cost

    started = time.perf_counter()
    bag = DagBag(dag_folder=path, safe_mode=False)
    seconds = time.perf_counter() - started
    assert not bag.import_errors, bag.import_errors
    print(json.dumps({"seconds": seconds, "dags": sorted(bag.dag_ids)}))


def _parse_once(path, env) -> tuple[float, list[str]]:
    out = subprocess.run(child(parse_dag_file, path), env=env, cwd=REPO, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["seconds"], result["dags"]


def run() -> str:
    home = tempfile.mkdtemp(prefix="bantin-bench-airflow-")
    env = {
        **os.environ,
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    }
    rows = []
    for path in sorted((REPO / "dags").glob("*.py")):
        runs, dags = [], []
        for _ in range(REPEAT):
            seconds, dags = _parse_once(path, env)
            runs.append(seconds)
        median = statistics.median(runs)
        rows.append(
            f"| `dags/{path.name}` ({', '.join(dags)}) | {median:.3f} s | "
            f"{', '.join(f'{s:.3f}' for s in runs)} | ≤ {LIMIT_S:.0f} s | {verdict(median, LIMIT_S)} |"
        )
    return "\n".join(
        [
            f"Each file parsed by `DagBag` in a fresh process with Airflow already imported (as in the "
            f"dag-processor); {REPEAT} runs each. No pandas, DuckDB or Great Expectations at module level.",
            "",
            "| DAG file | median | runs (s) | target | met |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
