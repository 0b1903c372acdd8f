{%- set cumulative = count_columns(['cumulative']) %}
SELECT
    * EXCLUDE (
        {%- for name in cumulative %}
        {{ name }}_known,
        {%- endfor %}
        reported_days_7d, reported_days_14d, new_cases_7d, community_7d, new_cases_14d, community_14d,
        new_cases_prev_7d, population, population_18plus, population_65plus, population_50plus
    )
FROM {{ ref('commune_window') }}
WHERE TRUE {{- since_rebuild() }}
