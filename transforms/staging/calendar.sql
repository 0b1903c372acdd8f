-- One row per report date the marts cover, bounded by the data: every day from the earliest to
-- the latest accepted submission, plus each report date the pipeline was asked to build
-- (ops.report_day and this run's). A run for a date after the last data adds that one day,
-- not every day in between: the trailing windows count calendar days, not rows.
-- @column report_date: Report date (ngày báo cáo)
WITH data_days AS (
    SELECT min(report_date) AS first_date, max(report_date) AS last_date
    FROM ops.submission WHERE status = 'accepted'
),
asked AS (
    SELECT report_date FROM ops.report_day
    UNION SELECT getvariable('calendar_end') WHERE getvariable('calendar_end') IS NOT NULL
)
SELECT DISTINCT report_date FROM (
    SELECT CAST(day AS DATE) AS report_date
    FROM data_days, range(first_date, last_date + INTERVAL 1 DAY, INTERVAL 1 DAY) AS days(day)
    WHERE first_date IS NOT NULL
    UNION ALL
    SELECT report_date FROM asked
)
ORDER BY report_date
