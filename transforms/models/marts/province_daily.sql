SELECT
    report_date,
    reference_version,
    province_code,
    unit_name AS province_name,
    districts_expected,
    districts_reported,
    * EXCLUDE ({{ unit_daily_working_columns() }}, submission_id, submission_version)
FROM {{ ref('unit_daily') }}
WHERE unit_type = 'province' {{- since_rebuild() }}
