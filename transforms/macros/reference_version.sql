{#- The unit list in force on each report date of `days` (a subquery with a report_date column): the
    row of ref.reference_version whose period holds the date (valid_to NULL: the newest list, still in
    force); NULL before the first list. Few rows on both sides: a model joins the result to the unit
    tables by reference_version (an equi-join), never the unit tables to the dates by range. -#}
{% macro reference_version_on(days) -%}
    SELECT
        d.report_date,
        v.reference_version
    FROM ({{ days }}) AS d
    LEFT JOIN {{ source('ref', 'reference_version') }} AS v
        ON d.report_date BETWEEN v.valid_from AND coalesce(v.valid_to, DATE '9999-12-31')
{%- endmacro %}
