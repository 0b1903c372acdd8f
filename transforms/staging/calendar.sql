-- One row per report date the marts cover: from the earliest accepted submission
-- (or the run's report date) to the latest report date the pipeline was asked to build.
-- @column report_date: Report date (ngày báo cáo)
WITH last_day AS (
    SELECT greatest(
        getvariable('calendar_end'),
        (SELECT max(report_date) FROM ops.report_day)
    ) AS last_date
),
bounds AS (
    SELECT
        least(coalesce((SELECT min(report_date) FROM ops.submission WHERE status = 'accepted'), last_date), last_date)
            AS first_date,
        last_date
    FROM last_day
)
SELECT CAST(day AS DATE) AS report_date
FROM bounds, range(first_date, last_date + INTERVAL 1 DAY, INTERVAL 1 DAY) AS days(day)
WHERE last_date IS NOT NULL
