{#- The rule set in force for each (report_date, province_code) of `days` (a subquery): the latest
    effective_from on or before the date, among the national ones and those scoped to the province
    (scoped first on a tie), with its parameters. -#}
{% macro rule_set_in_force(days) -%}
    SELECT
        d.report_date,
        d.province_code,
        rs.* EXCLUDE (name, legal_basis, file_name, effective_from, province_codes)
    FROM ({{ days }}) AS d
    INNER JOIN {{ source('ref', 'rule_set') }} AS rs
        ON d.report_date >= rs.effective_from
            AND (rs.province_codes IS NULL OR list_contains(rs.province_codes, d.province_code))
    QUALIFY row_number() OVER (
        PARTITION BY d.report_date, d.province_code
        ORDER BY rs.effective_from DESC, rs.province_codes IS NOT NULL DESC, rs.version DESC
    ) = 1
{%- endmacro %}

{#- A unit_daily figure over the window of the rule set in force (7 or 14 days): `figure`_7d or `figure`_14d
    of `unit`, by `rule`.window_days. -#}
{% macro in_window(figure, unit='u', rule='r') -%}
    CASE WHEN {{ rule }}.window_days = 7 THEN {{ unit }}.{{ figure }}_7d ELSE {{ unit }}.{{ figure }}_14d END
{%- endmacro %}
