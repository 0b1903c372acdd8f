{#- Every value of the column is a unit of the list the row is on (its reference_version): dbt's
    `relationships`, with the unit list as part of the key. -#}
{% test on_unit_list(model, column_name, to, field) %}
WITH tested AS (
    SELECT
        reference_version,
        {{ column_name }} AS unit_code
    FROM {{ model }}
    WHERE {{ column_name }} IS NOT NULL
)

SELECT
    t.reference_version,
    t.unit_code
FROM tested AS t
WHERE NOT EXISTS (
    SELECT 1 FROM {{ to }} AS u
    WHERE u.reference_version = t.reference_version AND u.{{ field }} = t.unit_code
)
{% endtest %}
