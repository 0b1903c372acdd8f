{#- The columns of intermediate.unit_daily that the district and province marts do not publish: keys they
    name their own way, the 14-day and population-day windows the levels use, and the flags of the other
    unit types. One list, so a working column added to unit_daily stays out of both marts. -#}
{% macro unit_daily_working_columns() -%}
    report_date, province_code, district_code, commune_code, unit_type, unit_code, unit_name,
    districts_expected, districts_reported, has_data, treatment_beds, icu_beds,
    new_cases_14d, community_14d,
    commune_days_reported_14d, population_days_7d, population_days_14d, missing_units_7d,
    missing_units_14d, reference_version
{%- endmacro %}
