{{ config(materialized='view') }}
-- a view: read by one model, for the dates it builds (the filter reaches the ledger through it).
-- The file in force comes from the ledger's one reading of it, ops.submission_in_force (bantin/ledger.py).
SELECT
    s.report_date,
    s.submission_id,
    s.version AS submission_version,
    s.is_late,
    s.received_at,
    r.* EXCLUDE (submission_id, source_row, report_date)
FROM {{ source('raw', 'submission_row') }} AS r
INNER JOIN {{ source('ops', 'submission_in_force') }} AS s USING (submission_id)
