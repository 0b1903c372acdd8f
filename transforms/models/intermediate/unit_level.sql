{%- set carried = ['criteria_level', 'weekly_rate', 'transmission_band', 'coverage_18plus_dose1',
                   'main_coverage_met', 'coverage_65plus_full', 'coverage_elderly_full', 'elderly_coverage_met',
                   'elderly_short', 'elderly_raised', 'capacity_met'] %}
-- The level of every unit on every report date, before it is worded (marts.epidemic_level).
-- Levels hold over time (cannot_lower capacity, incomplete windows, days without data): an
-- incremental run starts from each unit's state on the last date before rebuild_from, kept here
-- (capacity_max, completeness_max, the carried values), instead of reading the whole history.
WITH unit_day AS (
    SELECT * FROM {{ ref('unit_daily') }}
    WHERE TRUE {{- since_rebuild() }}
),

rule_day AS (
    {{ rule_set_in_force('SELECT DISTINCT report_date, province_code FROM unit_day') }}
),

criteria AS (
    -- narrow rows (the windows below sort them): one per unit and date, with or without data
    SELECT
        u.report_date,
        u.unit_type,
        u.unit_code,
        u.province_code,
        u.district_code,
        u.has_data,
        -- one integer key per unit: sorting on it is cheaper than on (unit_type, unit_code)
        CASE u.unit_type WHEN 'commune' THEN 0 WHEN 'district' THEN 1 ELSE 2 END * 100000000
        + u.unit_code AS unit_key,
        u.coverage_18plus_dose1,
        u.coverage_65plus_full,
        CASE r.elderly_age WHEN 50 THEN u.coverage_50plus_full ELSE u.coverage_65plus_full END
            AS coverage_elderly_full,
        r.* EXCLUDE (report_date, province_code),
        {{ in_window('commune_days_reported') }} AS commune_days_reported,
        u.communes_expected * r.window_days AS commune_days_expected,
        {{ in_window('missing_units') }} AS missing_units,
        -- weekly rate over the population-days that reported: the plain rate on a complete window;
        -- on an incomplete one, days not reported (before the first data too) are not taken as zero cases
        coalesce(CASE WHEN r.numerator = 'community' THEN {{ in_window('community') }}
            ELSE {{ in_window('new_cases') }}
        END * 7 * 100000.0 / nullif({{ in_window('population_days') }}, 0), 0) AS weekly_rate,
        {{ in_window('new_cases') }} > 0 AS cases_in_window,
        coalesce(u.coverage_18plus_dose1 >= r.main_coverage_threshold, false) AS main_coverage_met,
        -- no figure for the elderly group counts as not met: missing data never lowers a level
        coalesce(CASE r.elderly_age WHEN 50 THEN u.coverage_50plus_full ELSE u.coverage_65plus_full END
            >= r.elderly_coverage_threshold, false) AS elderly_coverage_met,
        coalesce(CASE u.unit_type
            WHEN 'commune' THEN u.mobile_medical_stations >= r.commune_min_mobile_stations
            WHEN 'district' THEN u.treatment_beds >= r.district_min_treatment_beds
            ELSE u.icu_beds * 100000.0 / nullif(u.population, 0) >= r.province_min_icu_beds_per_100k
        END, false) AS capacity_met
    FROM unit_day AS u
    INNER JOIN rule_day AS r ON u.report_date = r.report_date AND u.province_code = r.province_code
),

matrix AS (
    SELECT
        *,
        len(list_filter(band_lower_bounds, LAMBDA lower: lower <= weekly_rate)) AS transmission_band,
        CASE WHEN main_coverage_met THEN level_if_coverage_met ELSE level_if_coverage_not_met END AS band_levels,
        elderly_adjustment AND NOT elderly_coverage_met
        AND NOT (elderly_exempt_if_no_case AND NOT cases_in_window) AS elderly_short
    FROM criteria
),

raised AS (
    SELECT
        *,
        band_levels[transmission_band] AS matrix_level,
        -- one_level: the elderly shortfall raises the band's level (coverage met) by one, and the main
        -- shortfall's raise already is that one level; additive: it adds one more
        least(4, CASE WHEN coverage_raise = 'additive'
            THEN band_levels[transmission_band] + CASE WHEN elderly_short THEN 1 ELSE 0 END
            ELSE greatest(
                band_levels[transmission_band],
                level_if_coverage_met[transmission_band] + CASE WHEN elderly_short THEN 1 ELSE 0 END)
        END) AS raised_level
    FROM matrix
),

leveled_by_criteria AS (
    -- only what the windows below need (they sort these rows): the rule set's parameters stay behind
    SELECT
        report_date, unit_type, unit_code, unit_key, province_code, district_code, has_data,
        weekly_rate, transmission_band, coverage_18plus_dose1, main_coverage_met, coverage_65plus_full,
        coverage_elderly_full, elderly_coverage_met, elderly_short, capacity_met, capacity_effect,
        commune_days_reported, commune_days_expected, missing_units,
        false AS is_seed,
        has_data AND commune_days_reported >= commune_days_expected AS is_complete,
        CASE WHEN has_data THEN raised_level END AS criteria_level,
        has_data AND raised_level > matrix_level AS elderly_raised
    FROM raised
),

{%- if is_incremental() %}

seed AS (
    -- each unit's state on the last report date before the ones rebuilt
    SELECT * FROM {{ this }}
    WHERE report_date = (SELECT max(report_date) FROM {{ this }} WHERE report_date < {{ rebuild_from() }})
),

with_seed AS (
    SELECT * FROM leveled_by_criteria
    UNION ALL BY NAME
    -- a seed row counts in no epoch of its own: it continues the one it was in, with the highest
    -- levels kept for it
    SELECT
        report_date, unit_type, unit_code, unit_key, province_code, district_code,
        false AS has_data, false AS capacity_met, false AS is_complete, true AS is_seed,
        capacity_max AS kept_capacity_max, completeness_max AS kept_completeness_max
    FROM seed
),

{%- else %}

with_seed AS (
    SELECT
        *,
        NULL AS kept_capacity_max,
        NULL AS kept_completeness_max
    FROM leveled_by_criteria
),
{%- endif %}

adjusted AS (
    SELECT
        *,
        -- cannot_lower: while capacity fails, the level may not fall below the previous
        -- assessment, i.e. it is the highest level since capacity was last met.
        count(*) FILTER (WHERE has_data AND capacity_met) OVER (
            PARTITION BY unit_key ORDER BY report_date ROWS UNBOUNDED PRECEDING) AS capacity_epoch,
        -- likewise an incomplete window may not lower the level: the highest since the last complete one
        count(*) FILTER (WHERE is_complete) OVER (
            PARTITION BY unit_key ORDER BY report_date ROWS UNBOUNDED PRECEDING) AS completeness_epoch
    FROM with_seed
),

capacity_checked AS (
    SELECT
        *,
        max(coalesce(criteria_level, kept_capacity_max))
            OVER (PARTITION BY unit_key, capacity_epoch ORDER BY report_date ROWS UNBOUNDED PRECEDING)
            AS capacity_max
    FROM adjusted
),

capacity_leveled AS (
    SELECT
        *,
        CASE WHEN NOT has_data THEN NULL
            WHEN capacity_met OR capacity_effect = 'none' THEN criteria_level
            WHEN capacity_effect = 'raise_one' THEN least(4, criteria_level + 1)
            ELSE capacity_max
        END AS capacity_level
    FROM capacity_checked
),

completeness_checked AS (
    SELECT
        *,
        max(coalesce(capacity_level, kept_completeness_max))
            OVER (PARTITION BY unit_key, completeness_epoch ORDER BY report_date ROWS UNBOUNDED PRECEDING)
            AS completeness_max
    FROM capacity_leveled
),

assessed AS (
    -- criteria values of days without data are NULL here: the window below carries the last ones forward
    SELECT
        report_date, unit_type, unit_code, unit_key, province_code, district_code, has_data, is_seed,
        capacity_max, completeness_max,
        CASE WHEN has_data THEN completeness_max END AS level,
        capacity_level,
        {%- for name in carried %}
        CASE WHEN has_data THEN {{ name }} END AS {{ name }},
        {%- endfor %}
        commune_days_reported, commune_days_expected, missing_units, is_complete
    FROM completeness_checked
),

carried AS (
    -- a day without data keeps the last assessment. The calendar may skip from the last data
    -- to a later report date (staging.calendar): "7 days before" is a range of days, not rows.
    SELECT
        a.report_date, a.unit_type, a.unit_code, a.unit_key, a.province_code, a.district_code, a.has_data,
        a.commune_days_reported, a.commune_days_expected, a.missing_units, a.is_complete,
        a.capacity_max, a.completeness_max,
        coalesce(max(a.report_date) FILTER (WHERE a.has_data) OVER (unit_days ROWS UNBOUNDED PRECEDING),
                 {{ seeded_state('assessed_on') }}) AS assessed_on,
        coalesce(
            last_value(a.level IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING), {{ seeded_state('level') }}
        ) AS level,
        {%- for name in carried %}
        coalesce(
            last_value(a.{{ name }} IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING), {{ seeded_state(name) }}
        ) AS {{ name }},
        {%- endfor %}
        coalesce(last_value(a.capacity_level > a.criteria_level IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING),
                 {{ seeded_state('capacity_held') }}) AS capacity_held,
        coalesce(last_value(a.level > a.capacity_level IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING),
                 {{ seeded_state('completeness_held') }}) AS completeness_held,
        coalesce(last_value(a.level IGNORE NULLS) OVER (unit_days ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                 {{ seeded_state('level') }}) AS previous_level,
        -- 7 days back may fall before the dates rebuilt: then the state kept here on that date
        {%- if is_incremental() %}
        CASE WHEN a.report_date - 7 >= {{ rebuild_from() }}
            THEN coalesce(last_value(a.level IGNORE NULLS) OVER (
                unit_days RANGE BETWEEN UNBOUNDED PRECEDING AND 7 PRECEDING), s.level)
        END AS level_7_days_ago
        {%- else %}
        last_value(a.level IGNORE NULLS) OVER (
            unit_days RANGE BETWEEN UNBOUNDED PRECEDING AND 7 PRECEDING) AS level_7_days_ago
        {%- endif %}
    FROM assessed AS a
    {%- if is_incremental() %}
    LEFT JOIN seed AS s ON a.unit_key = s.unit_key
    {%- endif %}
    WHERE NOT a.is_seed
    -- ordered by day number: the RANGE frame (7 days back) then shares the ROWS frames' sort (on a DATE it
    -- needs an INTERVAL, ordering by a TIMESTAMP cast: a second sort of every row)
    WINDOW unit_days AS (PARTITION BY a.unit_key ORDER BY a.report_date - DATE '2000-01-01')
)

{%- if is_incremental() %}

SELECT
    c.* EXCLUDE (level_7_days_ago),
    CASE WHEN c.report_date - 7 >= {{ rebuild_from() }} THEN c.level_7_days_ago ELSE h.level END AS level_7_days_ago
FROM carried AS c
ASOF LEFT JOIN (
    -- the state kept on the dates before the ones rebuilt that "7 days before" can reach
    SELECT unit_key, report_date, level FROM {{ this }}
    WHERE report_date < {{ rebuild_from() }}
        AND report_date >= coalesce(
            (SELECT max(report_date) FROM {{ this }} WHERE report_date <= {{ rebuild_from() }} - 7), DATE '0001-01-01'
        )
) AS h
    ON c.unit_key = h.unit_key AND c.report_date - 7 >= h.report_date
{%- else %}

SELECT * FROM carried
{%- endif %}
