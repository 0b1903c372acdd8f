-- @view
-- Rows of the submission in force for each district and report date (ops.submission_in_force,
-- the ledger's one reading of it: bantin/ledger.py), with the ledger facts the marts carry along.
SELECT
    s.report_date,
    s.submission_id,
    s.version AS submission_version,
    s.is_late,
    s.received_at,
    r.* EXCLUDE (submission_id, source_row, report_date)
FROM raw.submission_row AS r
JOIN ops.submission_in_force AS s USING (submission_id)
