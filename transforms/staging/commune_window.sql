-- @view
-- Commune days with the trailing sums and last known cumulative figures the
-- district, province and level models pool. Trailing windows count calendar days
-- (ranges of days: the calendar may skip from the last data to a later report date);
-- a day with no report adds nothing to a sum, and the reported_days_* counts say how
-- many of the window's days did report.
WITH filled AS (
    SELECT
        d.*,
        last_value(vaccinated_18plus_dose1 IGNORE NULLS) OVER history AS dose1_known,
        last_value(vaccinated_18plus_full IGNORE NULLS) OVER history AS full_known,
        last_value(vaccinated_65plus_full IGNORE NULLS) OVER history AS full65_known,
        last_value(vaccinated_50plus_full IGNORE NULLS) OVER history AS full50_known,
        -- days the commune reported in each window: the window is complete at 7 (or 14); days
        -- before its first data are in no row at all, so they count as missing, never as zero cases
        CAST(count(*) FILTER (WHERE reported) OVER last_7 AS BIGINT) AS reported_days_7d,
        CAST(count(*) FILTER (WHERE reported) OVER last_14 AS BIGINT) AS reported_days_14d,
        CAST(sum(coalesce(new_cases, 0)) OVER last_7 AS BIGINT) AS new_cases_7d,
        CAST(sum(coalesce(new_cases_community, 0)) OVER last_7 AS BIGINT) AS community_7d,
        CAST(sum(coalesce(new_cases, 0)) OVER last_14 AS BIGINT) AS new_cases_14d,
        CAST(sum(coalesce(new_cases_community, 0)) OVER last_14 AS BIGINT) AS community_14d,
        CAST(sum(coalesce(new_cases, 0)) OVER previous_7 AS BIGINT) AS new_cases_prev_7d
    FROM marts.commune_daily AS d
    WINDOW
        history AS (PARTITION BY commune_code ORDER BY report_date ROWS UNBOUNDED PRECEDING),
        last_7 AS (PARTITION BY commune_code ORDER BY report_date RANGE INTERVAL 6 DAYS PRECEDING),
        last_14 AS (PARTITION BY commune_code ORDER BY report_date RANGE INTERVAL 13 DAYS PRECEDING),
        previous_7 AS (PARTITION BY commune_code ORDER BY report_date
                       RANGE BETWEEN INTERVAL 13 DAYS PRECEDING AND INTERVAL 7 DAYS PRECEDING)
)
SELECT f.*, c.population, c.population_18plus, c.population_65plus, c.population_50plus
FROM filled AS f
JOIN ref.commune AS c USING (commune_code)
