{%- set cumulative = count_columns(['cumulative']) %}
-- An incremental run recomputes the dates it rebuilds and the 13 days before them, which the
-- trailing windows reach; the last cumulative figures known before those come from this table.
WITH commune_day AS (
    SELECT
        cal.report_date,
        -- the date as a day number: RANGE frames on it share one sort with the ROWS frames (on a DATE
        -- they need an INTERVAL, which orders by a TIMESTAMP cast and sorts the rows a second time)
        CAST(cal.report_date - DATE '2000-01-01' AS INTEGER) AS day_number,
        cal.reference_version,
        c.province_code,
        c.district_code,
        c.commune_code,
        c.commune_name,
        a.submission_id IS NOT NULL AS reported,
        a.submission_id,
        a.submission_version,
        coalesce(a.is_late, false) AS is_late,
        a.received_at,
        a.* EXCLUDE (report_date, submission_id, submission_version, is_late, received_at,
                     district_code, commune_code, commune_name)
    FROM {{ ref('calendar') }} AS cal
    -- the communes of the list in force on the date (the calendar carries it: an equi-join)
    INNER JOIN {{ source('ref', 'commune') }} AS c ON cal.reference_version = c.reference_version
    LEFT JOIN {{ ref('accepted_row') }} AS a
        ON cal.report_date = a.report_date AND c.commune_code = a.commune_code
            {{- since_rebuild('a.report_date', days_before=13) }}
    WHERE TRUE {{- since_rebuild('cal.report_date', days_before=13) }}
),

{%- if is_incremental() %}

known_before AS (
    SELECT
        commune_code,
        {%- for name in cumulative %}
        {{ name }}_known{{ "," if not loop.last }}
        {%- endfor %}
    FROM {{ this }}
    WHERE report_date = (
        SELECT max(report_date) FROM {{ this }} WHERE report_date < {{ rebuild_from() }} - 13
    )
),
{%- endif %}

filled AS (
    SELECT
        d.*,
        {%- for name in cumulative %}
        {%- if is_incremental() %}
        coalesce(last_value(d.{{ name }} IGNORE NULLS) OVER history, k.{{ name }}_known) AS {{ name }}_known,
        {%- else %}
        last_value(d.{{ name }} IGNORE NULLS) OVER history AS {{ name }}_known,
        {%- endif %}
        {%- endfor %}
        -- days the commune reported in each window: the window is complete at 7 (or 14); days
        -- before its first data are in no row at all, so they count as missing, never as zero cases
        CAST(count(*) FILTER (WHERE d.reported) OVER last_7 AS BIGINT) AS reported_days_7d,
        CAST(count(*) FILTER (WHERE d.reported) OVER last_14 AS BIGINT) AS reported_days_14d,
        CAST(sum(coalesce(d.new_cases, 0)) OVER last_7 AS BIGINT) AS new_cases_7d,
        CAST(sum(coalesce(d.new_cases_community, 0)) OVER last_7 AS BIGINT) AS community_7d,
        CAST(sum(coalesce(d.new_cases, 0)) OVER last_14 AS BIGINT) AS new_cases_14d,
        CAST(sum(coalesce(d.new_cases_community, 0)) OVER last_14 AS BIGINT) AS community_14d,
        CAST(sum(coalesce(d.new_cases, 0)) OVER previous_7 AS BIGINT) AS new_cases_prev_7d
    FROM commune_day AS d
    {%- if is_incremental() %}
    LEFT JOIN known_before AS k ON d.commune_code = k.commune_code
    {%- endif %}
    WINDOW
        history AS (PARTITION BY d.commune_code ORDER BY d.day_number ROWS UNBOUNDED PRECEDING),
        last_7 AS (PARTITION BY d.commune_code ORDER BY d.day_number RANGE 6 PRECEDING),
        last_14 AS (PARTITION BY d.commune_code ORDER BY d.day_number RANGE 13 PRECEDING),
        previous_7 AS (PARTITION BY d.commune_code ORDER BY d.day_number RANGE BETWEEN 13 PRECEDING AND 7 PRECEDING)
),

-- The windows above follow a commune code. A commune whose code the next list no longer has (merged
-- into another unit) carries its last 13 days into the unit it became (its largest piece), so the
-- windows run on across a change of list: the 7-day count on the day after a reform holds the cases
-- of the six days before it, wherever they were reported. Reported days stay each unit's own.
vanished AS (
    SELECT
        s.from_version,
        s.to_version,
        s.from_code,
        arg_max(s.to_code, s.population) AS to_code
    FROM {{ source('ref', 'commune_succession') }} AS s
    GROUP BY s.from_version, s.to_version, s.from_code
    HAVING NOT bool_or(s.to_code = s.from_code)
),

carried_in AS (
    -- reads the accepted rows again rather than commune_day: a CTE read twice is materialised whole
    SELECT
        cal.report_date,
        v.to_code AS commune_code,
        sum(coalesce(o.new_cases, 0)) FILTER (
            WHERE o.report_date > cal.report_date - 7
        ) AS new_cases_7d,
        sum(coalesce(o.new_cases_community, 0)) FILTER (
            WHERE o.report_date > cal.report_date - 7
        ) AS community_7d,
        sum(coalesce(o.new_cases, 0)) AS new_cases_14d,
        sum(coalesce(o.new_cases_community, 0)) AS community_14d,
        sum(coalesce(o.new_cases, 0)) FILTER (
            WHERE o.report_date <= cal.report_date - 7
        ) AS new_cases_prev_7d
    FROM vanished AS v
    INNER JOIN {{ source('ref', 'reference_version') }} AS rv
        ON v.to_version = rv.reference_version
    -- the 13 days before the next list starts, all on the list before it (the lists follow each other)
    INNER JOIN {{ ref('accepted_row') }} AS o
        ON
            v.from_code = o.commune_code
            AND o.report_date BETWEEN rv.valid_from - 13 AND rv.valid_from - 1
    INNER JOIN {{ ref('calendar') }} AS cal
        ON
            v.to_version = cal.reference_version
            AND o.report_date BETWEEN cal.report_date - 13 AND cal.report_date
    GROUP BY cal.report_date, v.to_code
)

SELECT
    f.* EXCLUDE (day_number) REPLACE (
        {%- for name in ['new_cases_7d', 'community_7d', 'new_cases_14d', 'community_14d', 'new_cases_prev_7d'] %}
        CAST(f.{{ name }} + coalesce(ci.{{ name }}, 0) AS BIGINT) AS {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    ),
    c.population,
    c.population_18plus,
    c.population_65plus,
    c.population_50plus
FROM filled AS f
INNER JOIN {{ source('ref', 'commune') }} AS c
    ON f.reference_version = c.reference_version AND f.commune_code = c.commune_code
LEFT JOIN carried_in AS ci
    ON f.report_date = ci.report_date AND f.commune_code = ci.commune_code
WHERE TRUE {{- since_rebuild('f.report_date') }}
