-- One row per report date and district: did the district's file arrive, on time, and was it accepted?
-- on_time / late: an accepted file arrived before / after the cutoff; rejected: files came but
-- none was accepted; missing: nothing arrived.
-- @column report_date: Report date (ngày báo cáo)
-- @column province_code: GSO province code
-- @column district_code: GSO district code
-- @column district_name: District name (reference list)
-- @column status: on_time, late, missing or rejected
-- @column first_received_at: When the first file for this date arrived (local time)
-- @column accepted_received_at: When the file in force arrived (local time)
-- @column accepted_submission_id: Ledger id of the file in force
-- @column versions_received: How many distinct files arrived for this date
-- @column versions_rejected: How many of them were rejected
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
    FROM ops.submission
    WHERE report_date IS NOT NULL
    GROUP BY district_code, report_date
)
SELECT
    cal.report_date,
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
FROM staging.calendar AS cal
CROSS JOIN ref.district AS d
LEFT JOIN received AS r ON r.district_code = d.district_code AND r.report_date = cal.report_date
-- a district with no reporting unit in the reference list (Hoàng Sa: no resident population) has nothing to report;
-- an island district without communes is its own unit (commune code = district code) and reports like the others
WHERE d.district_code IN (SELECT district_code FROM ref.commune)
