{#- The model's grain: no two rows share these columns (dbt's `unique` takes one column). -#}
{% test unique_grain(model, columns) %}
SELECT
    {{ columns | join(', ') }},
    count(*) AS rows_with_this_key
FROM {{ model }}
GROUP BY {{ columns | join(', ') }}
HAVING count(*) > 1
{% endtest %}
