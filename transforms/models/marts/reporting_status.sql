{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='report_date',
          pre_hook="{{ delete_rebuilt_dates() }}", on_schema_change='fail') }}
WITH received AS (
    SELECT
        district_code,
        report_date,
        count(*) AS versions_received,
        count(*) FILTER (WHERE status = 'rejected') AS versions_rejected,
        min(received_at) AS first_received_at,
        any_value(received_at) FILTER (WHERE status = 'accepted') AS accepted_received_at,
        any_value(submission_id) FILTER (WHERE status = 'accepted') AS accepted_submission_id,
        any_value(is_late) FILTER (WHERE status = 'accepted') AS accepted_is_late
    FROM {{ source('ops', 'submission') }}
    WHERE report_date IS NOT NULL {{- since_rebuild() }}
    GROUP BY district_code, report_date
)
SELECT
    cal.report_date,
    cal.reference_version,
    d.province_code,
    d.district_code,
    d.district_name,
    CASE
        WHEN r.accepted_submission_id IS NOT NULL AND NOT r.accepted_is_late THEN 'on_time'
        WHEN r.accepted_submission_id IS NOT NULL THEN 'late'
        WHEN r.versions_rejected > 0 THEN 'rejected'
        ELSE 'missing'
    END AS status,
    r.first_received_at,
    r.accepted_received_at,
    r.accepted_submission_id,
    coalesce(r.versions_received, 0) AS versions_received,
    coalesce(r.versions_rejected, 0) AS versions_rejected
FROM {{ ref('calendar') }} AS cal
-- the districts of the list in force on the date
INNER JOIN {{ source('ref', 'district') }} AS d ON cal.reference_version = d.reference_version
LEFT JOIN received AS r ON r.district_code = d.district_code AND r.report_date = cal.report_date
-- a district with no reporting unit in the reference list (Hoàng Sa: no resident population) has nothing to report;
-- an island district without communes is its own unit (commune code = district code) and reports like the others
WHERE (d.reference_version, d.district_code) IN (
    SELECT (reference_version, district_code) FROM {{ source('ref', 'commune') }}
)
    {{- since_rebuild('cal.report_date') }}
