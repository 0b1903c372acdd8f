{{ config(materialized='table') }}
WITH data_days AS (
    SELECT
        min(report_date) AS first_date,
        max(report_date) AS last_date
    FROM {{ source('ops', 'submission_in_force') }}
),

asked AS (
    SELECT report_date FROM {{ source('ops', 'report_day') }}
    {%- if var('calendar_end') %}
    UNION
    SELECT DATE '{{ var("calendar_end") }}' AS report_date
    {%- endif %}
),

report_days AS (
    SELECT DISTINCT report_date FROM (
        SELECT CAST(days.day AS DATE) AS report_date
        FROM data_days,
            range(data_days.first_date, data_days.last_date + INTERVAL 1 DAY, INTERVAL 1 DAY) AS days (day)
        WHERE data_days.first_date IS NOT NULL
        UNION ALL
        SELECT report_date FROM asked
    ) AS report_days
),

-- each date with the unit list in force on it: the models take its units from that list
in_force AS (
    {{ reference_version_on('SELECT report_date FROM report_days') }}
)

SELECT
    report_date,
    reference_version
FROM in_force
ORDER BY report_date
