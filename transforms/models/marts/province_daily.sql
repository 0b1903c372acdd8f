SELECT
    report_date,
    reference_version,
    province_code,
    unit_name AS province_name,
    districts_expected,
    districts_reported,
    * EXCLUDE (report_date, province_code, district_code, commune_code, unit_type, unit_code, unit_name,
              districts_expected, districts_reported, has_data, treatment_beds, icu_beds,
              new_cases_14d, community_14d,
              commune_days_reported_14d, population_days_7d, population_days_14d, missing_units_7d,
              missing_units_14d,
              submission_id, submission_version, reference_version)
FROM {{ ref('unit_daily') }}
WHERE unit_type = 'province' {{- since_rebuild() }}
