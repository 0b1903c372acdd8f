"""bantin's own Great Expectations expectation types, registered on import.

GX registers an expectation class when its module is imported and silently
drops a suite entry whose type is unknown, so `bantin.validation.load_suite`
imports this module before loading any suite (and then checks that every
declared expectation was loaded).

Both types compare two columns of the same row, like GX's own column-pair
expectations, so unexpected rows come back with their index and map to the
row the clerk sees. Rows where either value is missing are not judged (no
history, no baseline: nothing to compare with).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from great_expectations.compatibility import pydantic
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnPairMapMetricProvider,
    column_pair_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer


def _sentence(template: str, configuration, **defaults) -> list:
    """What the Data Docs page says for an expectation: its rule in words, with its parameters."""
    params = {**defaults, **{k: v for k, v in configuration.kwargs.items() if isinstance(v, (str, int, float))}}
    return [
        RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={
                "template": template,
                "params": params,
                "styling": {"params": {k: {"classes": ["badge", "badge-secondary"]} for k in params}},
            },
        )
    ]


_PAIR_DOMAIN_KEYS = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser", "ignore_row_if")


class ColumnPairValuesAWithinScaleOfB(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.a_within_scale_of_b"
    condition_domain_keys = _PAIR_DOMAIN_KEYS
    condition_value_keys = ("ratio", "margin", "floor")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, ratio=1.0, margin=0.0, floor=0.0, **kwargs):
        ceiling = (column_B * ratio).combine((column_B + margin), max).clip(lower=floor)
        return column_A <= ceiling


class ExpectColumnPairValuesAToBeWithinScaleOfB(ColumnPairMapExpectation):
    """A ≤ max(ratio × B, B + margin, floor): a value plausible next to a reference level.

    B is a level the row's own history gives (a trailing mean, yesterday's
    stock plus today's inflow); `floor` keeps small numbers from alarming.
    """

    ratio: float | int = 1.0
    margin: float | int = 0
    floor: float | int = 0
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = pydantic.Field(
        default="either_value_is_missing"
    )

    map_metric = "column_pair_values.a_within_scale_of_b"
    success_keys = ("column_A", "column_B", "ratio", "margin", "floor", "ignore_row_if", "mostly")
    args_keys = ("column_A", "column_B", "ratio", "margin", "floor")
    library_metadata: ClassVar[dict] = {"maturity": "experimental", "tags": ["bantin"], "contributors": ["bantin"]}

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        return _sentence(
            "$column_A must be at most the largest of $ratio × $column_B, $column_B + $margin and $floor.",
            configuration,
            ratio=1,
            margin=0,
            floor=0,
        )


class ColumnPairValuesAAtMostWhereBAtLeast(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.a_at_most_where_b_at_least"
    condition_domain_keys = _PAIR_DOMAIN_KEYS
    condition_value_keys = ("max_value", "b_at_least")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, max_value=0, b_at_least=0, **kwargs):
        return (column_B < b_at_least) | (column_A <= max_value)


class ExpectColumnPairValuesAToBeAtMostWhereBAtLeast(ColumnPairMapExpectation):
    """A ≤ max_value on the rows where B ≥ b_at_least (e.g. few cases right after days of silence)."""

    max_value: float | int
    b_at_least: float | int
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = pydantic.Field(
        default="either_value_is_missing"
    )

    map_metric = "column_pair_values.a_at_most_where_b_at_least"
    success_keys = ("column_A", "column_B", "max_value", "b_at_least", "ignore_row_if", "mostly")
    args_keys = ("column_A", "column_B", "max_value", "b_at_least")
    library_metadata: ClassVar[dict] = {"maturity": "experimental", "tags": ["bantin"], "contributors": ["bantin"]}

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        return _sentence("$column_A must be at most $max_value where $column_B is at least $b_at_least.", configuration)
