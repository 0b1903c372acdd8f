{%- set cumulative = count_columns(['cumulative']) %}
-- Every row of a report date is pooled from that date's commune rows alone (the trailing windows
-- are already in commune_window): an incremental run reads only the dates it rebuilds.
WITH commune_window AS NOT MATERIALIZED (
    -- read where it is used (the table is on disk): materialised, this CTE is a 2 GB copy nationally
    SELECT * FROM {{ ref('commune_window') }}
    WHERE TRUE {{- since_rebuild() }}
),

commune AS (
    -- communes pass through (aggregating 3.7 M one-row groups costs a minute at national scale)
    SELECT
        * EXCLUDE (
            reported, is_late, received_at, notes,
            {%- for name in cumulative %}
            {{ name }}, {{ name }}_known,
            {%- endfor %}
            reported_days_7d, reported_days_14d
        ),
        'commune' AS unit_type,
        CAST(1 AS BIGINT) AS communes_expected,
        CAST(reported AS BIGINT) AS communes_reported,
        {%- for name in cumulative %}
        {{ name }}_known AS {{ name }},
        {%- endfor %}
        -- completeness of the trailing windows: commune-days reported, and the population behind them
        reported_days_7d AS commune_days_reported_7d,
        reported_days_14d AS commune_days_reported_14d,
        population * reported_days_7d AS population_days_7d,
        population * reported_days_14d AS population_days_14d
    FROM commune_window
),

pooled AS (
    SELECT
        report_date,
        any_value(reference_version) AS reference_version,  -- one unit list a date
        CASE WHEN grouping(district_code) = 0 THEN 'district' ELSE 'province' END AS unit_type,
        province_code,
        district_code,
        CAST(NULL AS BIGINT) AS commune_code,
        sum(communes_expected) AS communes_expected,
        sum(communes_reported) AS communes_reported,
        -- a district has one file in force per date: its id and version say where the figures came from
        -- (the province has no file of its own: NULL, not some district's)
        CASE WHEN grouping(district_code) = 0 THEN any_value(submission_id) END AS submission_id,
        CASE WHEN grouping(district_code) = 0 THEN max(submission_version) END AS submission_version,
        CAST(sum(population) AS BIGINT) AS population,
        CAST(sum(population_18plus) AS BIGINT) AS population_18plus,
        CAST(sum(population_65plus) AS BIGINT) AS population_65plus,
        CAST(sum(population_50plus) AS BIGINT) AS population_50plus,
        CAST(sum(commune_days_reported_7d) AS BIGINT) AS commune_days_reported_7d,
        CAST(sum(commune_days_reported_14d) AS BIGINT) AS commune_days_reported_14d,
        CAST(sum(population_days_7d) AS BIGINT) AS population_days_7d,
        CAST(sum(population_days_14d) AS BIGINT) AS population_days_14d,
        {{- pooled_sums(['daily', 'stock']) }},
        CAST(sum(new_cases_7d) AS BIGINT) AS new_cases_7d,
        CAST(sum(community_7d) AS BIGINT) AS community_7d,
        CAST(sum(new_cases_14d) AS BIGINT) AS new_cases_14d,
        CAST(sum(community_14d) AS BIGINT) AS community_14d,
        CAST(sum(new_cases_prev_7d) AS BIGINT) AS new_cases_prev_7d,
        {{- pooled_sums(['cumulative']) }}
    FROM commune
    -- each district, and the province (district_code rolled up)
    GROUP BY report_date, province_code, rollup(district_code)
),

-- what is missing from each unit's 7- and 14-day windows, named for its reason: a district's
-- communes with days missing, the province's districts with communes or days missing
commune_gaps AS (
    SELECT
        report_date,
        district_code,
        {%- for days in [7, 14] %}
        list(commune_name || ' (' || reported_days_{{ days }}d || '/{{ days }} ngày)' ORDER BY commune_code)
            FILTER (WHERE reported_days_{{ days }}d < {{ days }}) AS missing_units_{{ days }}d{{ "," if not loop.last }}
        {%- endfor %}
    FROM commune_window
    GROUP BY report_date, district_code
),

district_gaps AS (
    SELECT
        p.report_date,
        p.province_code,
        {%- for days in [7, 14] %}
        list(CASE WHEN p.communes_reported = 0
                THEN d.district_name || ' (không báo cáo ngày ' || strftime(p.report_date, '%d/%m') || ')'
            ELSE d.district_name || ' (' || p.commune_days_reported_{{ days }}d
                || '/' || p.communes_expected * {{ days }} || ' xã-ngày)' END ORDER BY p.district_code)
            FILTER (WHERE p.commune_days_reported_{{ days }}d < p.communes_expected * {{ days }})
            AS missing_units_{{ days }}d{{ "," if not loop.last }}
        {%- endfor %}
    FROM pooled AS p
    INNER JOIN {{ source('ref', 'district') }} AS d
        ON p.reference_version = d.reference_version AND p.district_code = d.district_code
    WHERE p.unit_type = 'district'
    GROUP BY p.report_date, p.province_code
),

-- districts counted from the district rows: count(DISTINCT) inside GROUPING SETS is
-- twenty times slower at national scale
district_count AS (
    SELECT
        report_date,
        province_code,
        count(*) AS districts_expected,
        count(*) FILTER (WHERE communes_reported > 0) AS districts_reported
    FROM pooled
    WHERE unit_type = 'district'
    GROUP BY report_date, province_code
),

-- the districts' and provinces' own columns, joined to the pooled rows alone (a few hundred thousand
-- nationally, not the 3.7 M commune rows); a commune row carries its name and has no gaps or beds
pooled_units AS (
    SELECT
        p.*,
        coalesce(d.district_name, pr.province_name) AS unit_name,
        CASE WHEN p.unit_type = 'province' THEN dc.districts_expected ELSE 1 END AS districts_expected,
        CASE WHEN p.unit_type = 'province' THEN dc.districts_reported
            ELSE CAST(p.communes_reported > 0 AS BIGINT) END AS districts_reported,
        coalesce(cg.missing_units_7d, dg.missing_units_7d) AS missing_units_7d,
        coalesce(cg.missing_units_14d, dg.missing_units_14d) AS missing_units_14d,
        cap.treatment_beds,
        cap.icu_beds
    FROM pooled AS p
    -- names and capacity from the unit list the row is on
    LEFT JOIN {{ source('ref', 'district') }} AS d
        ON p.unit_type = 'district' AND p.reference_version = d.reference_version AND p.district_code = d.district_code
    LEFT JOIN {{ source('ref', 'province') }} AS pr
        ON p.unit_type = 'province' AND p.reference_version = pr.reference_version
            AND p.province_code = pr.province_code
    LEFT JOIN district_count AS dc
        ON p.unit_type = 'province' AND p.report_date = dc.report_date AND p.province_code = dc.province_code
    LEFT JOIN commune_gaps AS cg
        ON p.unit_type = 'district' AND p.report_date = cg.report_date AND p.district_code = cg.district_code
    LEFT JOIN district_gaps AS dg
        ON p.unit_type = 'province' AND p.report_date = dg.report_date AND p.province_code = dg.province_code
    LEFT JOIN {{ source('ref', 'treatment_capacity') }} AS cap
        ON p.unit_type = cap.unit_type AND p.reference_version = cap.reference_version
            AND cap.unit_code = CASE p.unit_type WHEN 'district' THEN p.district_code ELSE p.province_code END
),

units AS (
    SELECT
        * EXCLUDE (commune_name),
        commune_name AS unit_name,
        CAST(1 AS BIGINT) AS districts_expected,
        CAST(communes_reported > 0 AS BIGINT) AS districts_reported,
        CAST(NULL AS VARCHAR[]) AS missing_units_7d,
        CAST(NULL AS VARCHAR[]) AS missing_units_14d,
        CAST(NULL AS BIGINT) AS treatment_beds,
        CAST(NULL AS BIGINT) AS icu_beds
    FROM commune
    UNION ALL BY NAME
    SELECT * FROM pooled_units
)

SELECT
    * EXCLUDE (
        unit_name, districts_expected, districts_reported, missing_units_7d, missing_units_14d,
        treatment_beds, icu_beds
    ),
    districts_expected,
    districts_reported,
    CASE unit_type WHEN 'commune' THEN commune_code
        WHEN 'district' THEN district_code
        ELSE province_code END AS unit_code,
    unit_name,
    communes_reported > 0 AS has_data,
    round(tests_positive / nullif(tests_performed, 0), 4) AS test_positivity,
    round(new_cases_7d * 100000.0 / nullif(population, 0), 2) AS cases_per_100k_week,
    round(community_7d * 100000.0 / nullif(population, 0), 2) AS community_per_100k_week,
    round(vaccinated_18plus_dose1 / nullif(population_18plus, 0), 4) AS coverage_18plus_dose1,
    round(vaccinated_18plus_full / nullif(population_18plus, 0), 4) AS coverage_18plus_full,
    round(vaccinated_65plus_full / nullif(population_65plus, 0), 4) AS coverage_65plus_full,
    round(vaccinated_50plus_full / nullif(population_50plus, 0), 4) AS coverage_50plus_full,
    missing_units_7d,
    missing_units_14d,
    treatment_beds,
    icu_beds
FROM units
