SELECT
    report_date,
    reference_version,
    province_code,
    district_code,
    unit_name AS district_name,
    * EXCLUDE ({{ unit_daily_working_columns() }})
FROM {{ ref('unit_daily') }}
WHERE unit_type = 'district' {{- since_rebuild() }}
