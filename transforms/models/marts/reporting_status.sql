-- every file received for the date (rejected ones counted), and the one in force (the ledger's one reading)
WITH received AS (
    SELECT
        district_code,
        report_date,
        count(*) AS versions_received,
        count(*) FILTER (WHERE status = 'rejected') AS versions_rejected,
        min(received_at) AS first_received_at
    FROM {{ source('ops', 'submission') }}
    WHERE report_date IS NOT NULL {{- since_rebuild() }}
    GROUP BY district_code, report_date
),

in_force AS (
    SELECT
        district_code,
        report_date,
        received_at AS accepted_received_at,
        submission_id AS accepted_submission_id,
        is_late AS accepted_is_late
    FROM {{ source('ops', 'submission_in_force') }}
    WHERE TRUE {{- since_rebuild() }}
)

SELECT
    cal.report_date,
    cal.reference_version,
    d.province_code,
    d.district_code,
    d.district_name,
    CASE
        WHEN f.accepted_submission_id IS NOT NULL AND NOT f.accepted_is_late THEN 'on_time'
        WHEN f.accepted_submission_id IS NOT NULL THEN 'late'
        WHEN r.versions_rejected > 0 THEN 'rejected'
        ELSE 'missing'
    END AS status,
    r.first_received_at,
    f.accepted_received_at,
    f.accepted_submission_id,
    coalesce(r.versions_received, 0) AS versions_received,
    coalesce(r.versions_rejected, 0) AS versions_rejected
FROM {{ ref('calendar') }} AS cal
-- the districts of the list in force on the date
INNER JOIN {{ source('ref', 'district') }} AS d ON cal.reference_version = d.reference_version
LEFT JOIN received AS r ON r.district_code = d.district_code AND r.report_date = cal.report_date
LEFT JOIN in_force AS f ON f.district_code = d.district_code AND f.report_date = cal.report_date
-- a district with no reporting unit in the reference list (Hoàng Sa: no resident population) has nothing to report;
-- an island district without communes is its own unit (commune code = district code) and reports like the others
WHERE (d.reference_version, d.district_code) IN (
    SELECT (reference_version, district_code) FROM {{ source('ref', 'commune') }}
)
    {{- since_rebuild('cal.report_date') }}
