{{ config(materialized='view') }}
-- a view: read by one model, for the dates it builds (the filter reaches the ledger through it)
SELECT
    s.report_date,
    s.submission_id,
    s.version AS submission_version,
    s.is_late,
    s.received_at,
    r.* EXCLUDE (submission_id, source_row, report_date)
FROM {{ source('raw', 'submission_row') }} AS r
INNER JOIN {{ source('ops', 'submission') }} AS s USING (submission_id)
WHERE s.status = 'accepted'
