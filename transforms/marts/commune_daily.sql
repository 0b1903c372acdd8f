-- One row per report date and commune of the province: every metric of the submission
-- format as the district's accepted file gave it. A commune with no accepted row has
-- reported = false and NULL metrics (never a silent zero).
-- @column report_date: Report date (ngày báo cáo)
-- @column province_code: GSO province code
-- @column district_code: GSO district code
-- @column commune_code: GSO commune code
-- @column commune_name: Commune name from the reference list (not the name written in the file)
-- @column reported: True when an accepted submission has a row for this commune and date
-- @column submission_id: Ledger id (ops.submission) of the accepted file the figures come from
-- @column submission_version: Version of that file among the district's files for this date (1 = first received)
-- @column is_late: True when the accepted file arrived after the cutoff of its report date
-- @column received_at: When the accepted file arrived (local time of the province)
-- @column new_cases: New confirmed cases on the report date (ca mắc mới)
-- @column new_cases_community: Of which detected in the community (ca mắc mới trong cộng đồng)
-- @column f1_traced: New close contacts (F1) traced
-- @column tests_performed: Samples tested (RT-PCR and rapid antigen)
-- @column tests_positive: Positive samples
-- @column recovered: Patients recovered on the report date
-- @column deaths: Deaths on the report date
-- @column in_treatment: Patients in treatment at the end of the day (stock)
-- @column severe: Of which severe: oxygen, ventilator or ECMO (stock)
-- @column quarantine_centralized: People in centralised quarantine (stock)
-- @column quarantine_home: People in home quarantine (stock)
-- @column returnees: People returned from epidemic areas on the report date
-- @column vaccinated_18plus_dose1: People aged 18+ with at least one dose (cumulative)
-- @column vaccinated_18plus_full: People aged 18+ fully vaccinated (cumulative)
-- @column vaccinated_65plus_full: People aged 65+ fully vaccinated (cumulative)
-- @column vaccinated_50plus_full: People aged 50+ fully vaccinated (cumulative; optional column, NULL when not reported)
-- @column mobile_medical_stations: Mobile medical stations ready (stock)
-- @column notes: Free-text note from the district (untrusted text)
SELECT
    cal.report_date,
    c.province_code,
    c.district_code,
    c.commune_code,
    c.commune_name,
    a.submission_id IS NOT NULL AS reported,
    a.submission_id,
    a.submission_version,
    coalesce(a.is_late, false) AS is_late,
    a.received_at,
    a.* EXCLUDE (report_date, submission_id, submission_version, is_late, received_at,
                 district_code, commune_code, commune_name)
FROM staging.calendar AS cal
CROSS JOIN ref.commune AS c
LEFT JOIN staging.accepted_row AS a
    ON a.report_date = cal.report_date AND a.commune_code = c.commune_code
