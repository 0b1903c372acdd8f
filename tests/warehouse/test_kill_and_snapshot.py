"""A run killed mid-load leaves the warehouse as it was; analysts read the snapshot while runs write."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date

import pytest

from bantin import pipeline, store

from .loaded_warehouse import LAST_DAY, table_rows

# What the pipeline writes itself: a killed build never changes it (the record of what the marts
# were built from, ops.build_state and ops.build_input, is written only after dbt has finished).
SOURCE_SCHEMAS = ("raw", "ref", "ops")
MODEL_SCHEMAS = ("staging", "intermediate", "marts")

# The child runs the real build; once dbt has committed intermediate.unit_daily (dbt commits model
# by model; the marts district_daily, province_daily and the levels read it) it signals the test
# and waits to be killed.
LOAD_THEN_WAIT = textwrap.dedent("""
    import sys, time
    from datetime import date
    from pathlib import Path
    from bantin import models, pipeline, store
    from bantin.config import load_settings

    marker, full_refresh = Path(sys.argv[1]), sys.argv[2] == "full"
    real_run_dbt = models.run_dbt

    def wait_mid_load(model):
        if model == "unit_daily":
            marker.write_text("mid-load")
            time.sleep(600)

    def run_dbt(command, **options):
        return real_run_dbt(command, **{**options, "after_model": wait_mid_load})

    models.run_dbt = run_dbt
    pipeline.build_marts(load_settings(), date(2021, 10, 19), full_refresh=full_refresh)
""")


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_sigkill_mid_load_leaves_analysts_and_the_next_run_right(loaded_settings, tmp_path, mode):
    settings = loaded_settings
    pipeline.publish(settings)
    published = table_rows(settings.analytics_path, ("marts", "ref", "ops"))
    changed_day = date(2021, 10, 17)
    if mode == "incremental":  # a figure of 17/10 changes: the build replaces 17–19/10
        with store.writer(settings) as con, store.transaction(con):
            con.execute(
                "UPDATE raw.submission_row SET new_cases = new_cases + 5, new_cases_community = "
                "new_cases_community + 5 WHERE (submission_id, source_row) = (SELECT (r.submission_id, "
                "r.source_row) FROM raw.submission_row AS r JOIN ops.submission AS s USING (submission_id) "
                "WHERE s.status = 'accepted' AND s.report_date = ? AND r.commune_code IS NOT NULL "
                "ORDER BY ALL LIMIT 1)",
                [changed_day],
            )
    sources = table_rows(settings.warehouse_path, SOURCE_SCHEMAS)
    marts = table_rows(settings.warehouse_path, MODEL_SCHEMAS)
    marker = tmp_path / "mid-load"
    child = subprocess.Popen(
        [sys.executable, "-c", LOAD_THEN_WAIT, str(marker), mode],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert child.poll() is None, child.stdout.read().decode()
            assert time.monotonic() < deadline, "the child never reached the middle of the load"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL

    # the pipeline's own tables, and what the marts were built from, are as they were
    assert table_rows(settings.warehouse_path, SOURCE_SCHEMAS) == sources
    # part of the models were committed: unit_daily has the new figures, the marts made from it not yet
    killed = table_rows(settings.warehouse_path, MODEL_SCHEMAS)
    if mode == "incremental":
        assert killed["intermediate.unit_daily"] != marts["intermediate.unit_daily"]
        assert killed["marts.district_daily"] == marts["marts.district_daily"]
    # analysts never see it: the snapshot is published only after a successful build
    assert table_rows(settings.analytics_path, ("marts", "ref", "ops")) == published

    # the next run works (the lock died with the process) and redoes the same dates
    built = pipeline.build_marts(settings, LAST_DAY, full_refresh=mode == "full")
    assert built["mode"] == mode
    if mode == "incremental":
        assert built["rebuild_from"] == changed_day.isoformat()
    finished = table_rows(settings.warehouse_path, MODEL_SCHEMAS)
    assert finished["marts.district_daily"] != marts["marts.district_daily"] or mode == "full"
    # and finishes the job: the models are those of a clean full build of the same inputs
    pipeline.build_marts(settings, LAST_DAY, full_refresh=True)
    assert finished == table_rows(settings.warehouse_path, MODEL_SCHEMAS)
    if mode == "full":
        assert finished == marts


READ_SNAPSHOT = textwrap.dedent("""
    import json, os, sys
    import duckdb

    path, stop = sys.argv[1], sys.argv[2]
    held = duckdb.connect(path, read_only=True)  # an analyst's session left open the whole time
    held_count = held.execute("SELECT count(*) FROM marts.commune_daily").fetchone()[0]
    reads, seen, errors = 0, set(), []  # (commune days, commune levels) of each read
    while not os.path.exists(stop):  # until the test has published its snapshots, however long they take
        try:
            con = duckdb.connect(path, read_only=True)
            seen.add(con.execute(
                "SELECT (SELECT count(*) FROM marts.commune_daily), "
                "(SELECT count(*) FROM marts.epidemic_level WHERE unit_type = 'commune')").fetchone())
            con.close()
            reads += 1
        except Exception as problem:
            errors.append(repr(problem))
    held_again = held.execute("SELECT count(*) FROM marts.commune_daily").fetchone()[0]
    print(json.dumps({"reads": reads, "seen": sorted(seen), "errors": errors[:5],
                      "held": [held_count, held_again]}))
""")


def test_analysts_read_the_snapshot_while_runs_write(loaded_settings, tmp_path):
    settings = loaded_settings
    stop = tmp_path / "stop-reading"
    pipeline.publish(settings)
    with store.reader(settings.analytics_path) as con:
        expected, levels = con.execute(
            "SELECT (SELECT count(*) FROM marts.commune_daily), "
            "(SELECT count(*) FROM marts.epidemic_level WHERE unit_type = 'commune')"
        ).fetchone()
    reader = subprocess.Popen(
        [sys.executable, "-c", READ_SNAPSHOT, str(settings.analytics_path), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    published = 0
    while reader.poll() is None and published < 2:  # two whole rebuilds and publications, at any machine speed
        pipeline.build_marts(settings, LAST_DAY, full_refresh=True)
        pipeline.publish(settings)  # never waits for the readers
        published += 1
    stop.touch()
    out, err = reader.communicate(timeout=60)
    report = json.loads(out.strip().splitlines()[-1])
    assert published >= 2
    assert report["errors"] == [], err
    assert report["reads"] > 5
    # every read saw a whole snapshot: all communes of every date, for marts and levels alike
    assert report["seen"] == [[expected, levels]]
    assert report["held"] == [expected, expected]
    assert not list(settings.analytics_path.parent.glob(".*.partial*"))
    # the Parquet export, swapped the same way, holds the same rows
    with store.reader(settings.analytics_path) as con:
        parquet = con.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
            [str(settings.analytics_path.parent / "parquet" / "commune_daily" / "*" / "*.parquet")],
        ).fetchone()[0]
    assert parquet == expected


def test_parquet_export_recovers_from_a_data_root_copied_without_links(loaded_settings, tmp_path, monkeypatch):
    """`cp -r` of a data root makes `warehouse/parquet` a real folder; the next export still swings the link."""
    settings = loaded_settings
    pipeline.publish(settings)
    warehouse_dir = settings.analytics_path.parent
    assert (warehouse_dir / "parquet").is_symlink()
    from bantin.config import load_settings

    monkeypatch.setenv("BANTIN_HOME", str(tmp_path / "copied"))
    copied = load_settings()
    shutil.copytree(settings.home, copied.home)  # follows links, as `cp -r` does
    copied_dir = copied.analytics_path.parent
    assert (copied_dir / "parquet").is_dir() and not (copied_dir / "parquet").is_symlink()

    pipeline.publish(copied)

    assert (copied_dir / "parquet").is_symlink()
    assert (copied_dir / "parquet" / "commune_daily").is_dir()
    # the copied folder was filed with the old exports and pruned with them: two exports kept
    assert len([p for p in (copied_dir / "parquet.d").iterdir() if p.is_dir()]) == 2
