"""The dbt project (transforms/): one list of submission columns, documented models, tested grains."""

from __future__ import annotations

import yaml

from bantin import models
from bantin.submission_format import COLUMNS

PROJECT = yaml.safe_load((models.TRANSFORMS_DIR / "dbt_project.yml").read_text(encoding="utf-8"))


def _model_docs() -> dict[str, dict]:
    found = {}
    for path in models.MODELS_DIR.glob("*/_*.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8"))["models"]:
            found[f"{path.parent.name}.{model['name']}"] = model
    return found


def test_the_projects_column_list_is_the_submission_contracts():
    """dbt run by hand reads the list in dbt_project.yml; the pipeline passes the contract's own."""
    assert PROJECT["vars"]["submission_columns"] == models.submission_columns()
    assert [c["name"] for c in models.submission_columns()] == [c.name for c in COLUMNS]


def test_every_model_is_described_and_every_mart_tests_its_grain():
    docs = _model_docs()
    assert set(docs) == set(models.model_names()), "a model file without YAML, or YAML without a model"
    for name, model in docs.items():
        assert model.get("description", "").strip(), f"{name} has no description"
        if not name.startswith("staging."):
            tests = [next(iter(t)) if isinstance(t, dict) else t for t in model.get("data_tests", [])]
            assert "unique_grain" in tests, f"{name} does not test its grain"


def test_every_count_column_reaches_the_marts():
    """A count column added to the contract comes out in the daily marts and the corrections, by name."""
    with models.schema_only([22]) as con:
        columns = {}
        for table, column in con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'marts'"
        ).fetchall():
            columns.setdefault(table, set()).add(column)
        counts = [c.name for c in COLUMNS if c.type == "integer" and c.kind != "id"]
        assert set(counts) <= columns["commune_daily"]
        pooled = {c for c in counts if c != "mobile_medical_stations"}  # a commune's, not pooled (levels use it)
        assert pooled <= columns["district_daily"] and pooled <= columns["province_daily"]
        assert {f"{c}_delta" for c in counts} <= columns["corrections"]
