-- Epidemic level (cấp độ dịch) of every commune, district and the province on every report
-- date from the first rule set in force, per the rule set picked by effective date
-- (reference/rule_sets/). A unit with no data on the date keeps its last level, marked stale.
-- @column report_date: Report date (ngày báo cáo)
-- @column unit_type: commune, district or province
-- @column unit_code: GSO code of the unit
-- @column unit_name: Name of the unit
-- @column province_code: GSO province code
-- @column district_code: GSO district code (NULL for the province)
-- @column level: 1 green (nguy cơ thấp), 2 yellow (trung bình), 3 orange (cao), 4 red (rất cao)
-- @column colour: green, yellow, orange or red
-- @column colour_vi: xanh, vàng, cam or đỏ
-- @column cases_per_100k_week: Criterion 1: cases per 100,000 population per week (numerator and window per the rule set)
-- @column transmission_band: Band 1-4 of criterion 1
-- @column coverage_18plus_dose1: Criterion 2: share of people aged 18+ with at least one dose
-- @column main_coverage_met: Coverage of 18+ at or above the rule set's threshold
-- @column coverage_65plus_full: Share of people aged 65+ fully vaccinated
-- @column elderly_coverage_met: Elderly coverage at or above the rule set's threshold
-- @column elderly_raised: The level was raised one step for low elderly coverage
-- @column capacity_met: Criterion 3: treatment capacity met (commune: mobile stations; district: treatment beds; province: ICU beds per 100,000)
-- @column capacity_held: Failing capacity kept the level from falling (effect cannot_lower) or raised it (raise_one)
-- @column rule_set_id: Rule set applied, e.g. 4800/QĐ-BYT
-- @column rule_set_version: Version of that rule set file
-- @column reason: One-line explanation in Vietnamese
-- @column is_stale: True when the unit had no data on this date and keeps an earlier level
-- @column assessed_on: Date of the data the level was computed from
-- @column previous_level: Level on the previous report date
-- @column level_changed: Level differs from the previous report date
-- @column level_7_days_ago: Level seven days earlier
WITH rule_day AS (
    -- the rule set in force on each report date: the latest effective_from on or before it
    SELECT d.report_date, rs.* EXCLUDE (name, legal_basis, file_name, effective_from)
    FROM (SELECT DISTINCT report_date FROM staging.unit_daily) AS d
    JOIN ref.rule_set AS rs ON rs.effective_from <= d.report_date
    QUALIFY row_number() OVER (PARTITION BY d.report_date ORDER BY rs.effective_from DESC, rs.version DESC) = 1
),
criteria AS (
    -- narrow rows (the windows below sort them): one per unit and date, with or without data
    SELECT
        u.report_date, u.unit_type, u.unit_code, u.province_code, u.district_code, u.has_data,
        -- one integer key per unit: sorting on it is cheaper than on (unit_type, unit_code)
        CASE u.unit_type WHEN 'commune' THEN 0 WHEN 'district' THEN 1 ELSE 2 END * 100000000 + u.unit_code AS unit_key,
        u.coverage_18plus_dose1, u.coverage_65plus_full,
        r.*  EXCLUDE (report_date),
        -- a unit without population (none in the reference today) has no rate: counted as 0, not dropped
        coalesce(CASE WHEN r.numerator = 'community'
             THEN CASE WHEN r.window_days = 7 THEN u.community_7d ELSE u.community_14d / 2.0 END
             ELSE CASE WHEN r.window_days = 7 THEN u.new_cases_7d ELSE u.new_cases_14d / 2.0 END
        END * 100000.0 / nullif(u.population, 0), 0) AS weekly_rate,
        CASE WHEN r.window_days = 7 THEN u.new_cases_7d ELSE u.new_cases_14d END > 0 AS cases_in_window,
        coalesce(u.coverage_18plus_dose1 >= r.main_coverage_threshold, false) AS main_coverage_met,
        coalesce(u.coverage_65plus_full >= r.elderly_coverage_threshold, false) AS elderly_coverage_met,
        coalesce(CASE u.unit_type
            WHEN 'commune' THEN u.mobile_medical_stations >= r.commune_min_mobile_stations
            WHEN 'district' THEN u.treatment_beds >= r.district_min_treatment_beds
            ELSE u.icu_beds * 100000.0 / nullif(u.population, 0) >= r.province_min_icu_beds_per_100k
        END, false) AS capacity_met
    FROM staging.unit_daily AS u
    JOIN rule_day AS r USING (report_date)
),
matrix AS (
    SELECT
        *,
        len(list_filter(band_lower_bounds, lambda lower: lower <= weekly_rate)) AS transmission_band,
        elderly_adjustment AND NOT elderly_coverage_met
            AND NOT (elderly_exempt_if_no_case AND NOT cases_in_window) AS elderly_raised
    FROM criteria
),
leveled_by_criteria AS (
    -- only what the windows below need (they sort these rows): the rule set's parameters stay behind
    SELECT
        report_date, unit_type, unit_code, unit_key, province_code, district_code, has_data,
        weekly_rate, transmission_band, coverage_18plus_dose1, main_coverage_met, coverage_65plus_full,
        elderly_coverage_met, elderly_raised, capacity_met, capacity_effect,
        CASE WHEN has_data THEN least(4,
            CASE WHEN main_coverage_met THEN level_if_coverage_met ELSE level_if_coverage_not_met END[transmission_band]
            + CASE WHEN elderly_raised THEN 1 ELSE 0 END) END AS criteria_level
    FROM matrix
),
adjusted AS (
    SELECT
        *,
        -- cannot_lower: while capacity fails, the level may not fall below the previous
        -- assessment, i.e. it is the highest level since capacity was last met.
        count(*) FILTER (WHERE has_data AND capacity_met) OVER (
            PARTITION BY unit_key ORDER BY report_date ROWS UNBOUNDED PRECEDING) AS capacity_epoch
    FROM leveled_by_criteria
),
assessed AS (
    -- criteria values of days without data are NULL here: the window below carries the last ones forward
    SELECT
        report_date, unit_type, unit_code, unit_key, province_code, district_code, has_data,
        CASE WHEN NOT has_data THEN NULL
             WHEN capacity_met OR capacity_effect = 'none' THEN criteria_level
             WHEN capacity_effect = 'raise_one' THEN least(4, criteria_level + 1)
             ELSE max(criteria_level) OVER (
                PARTITION BY unit_key, capacity_epoch ORDER BY report_date ROWS UNBOUNDED PRECEDING)
        END AS level,
        criteria_level,
        CASE WHEN has_data THEN weekly_rate END AS weekly_rate,
        CASE WHEN has_data THEN transmission_band END AS transmission_band,
        CASE WHEN has_data THEN coverage_18plus_dose1 END AS coverage_18plus_dose1,
        CASE WHEN has_data THEN main_coverage_met END AS main_coverage_met,
        CASE WHEN has_data THEN coverage_65plus_full END AS coverage_65plus_full,
        CASE WHEN has_data THEN elderly_coverage_met END AS elderly_coverage_met,
        CASE WHEN has_data THEN elderly_raised END AS elderly_raised,
        CASE WHEN has_data THEN capacity_met END AS capacity_met
    FROM adjusted
),
carried AS (
    -- a day without data keeps the last assessment. The calendar may skip from the last data
    -- to a later report date (staging.calendar): "7 days before" is a range of days, not rows.
    SELECT
        report_date, unit_type, unit_code, unit_key, province_code, district_code, has_data,
        max(report_date) FILTER (WHERE has_data) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS assessed_on,
        last_value(level IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS level,
        last_value(level > criteria_level IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS capacity_held,
        last_value(weekly_rate IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS weekly_rate,
        last_value(transmission_band IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS transmission_band,
        last_value(coverage_18plus_dose1 IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS coverage_18plus_dose1,
        last_value(main_coverage_met IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS main_coverage_met,
        last_value(coverage_65plus_full IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS coverage_65plus_full,
        last_value(elderly_coverage_met IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS elderly_coverage_met,
        last_value(elderly_raised IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS elderly_raised,
        last_value(capacity_met IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS capacity_met,
        last_value(level IGNORE NULLS) OVER (unit_days ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
            AS previous_level,
        last_value(level IGNORE NULLS) OVER (
            unit_days RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 7 DAYS PRECEDING) AS level_7_days_ago
    FROM assessed
    WINDOW unit_days AS (PARTITION BY unit_key ORDER BY report_date)
),
unit_name AS (
    SELECT commune_code AS unit_code, 'commune' AS unit_type, commune_name AS unit_name FROM ref.commune
    UNION ALL SELECT district_code, 'district', district_name FROM ref.district
    UNION ALL SELECT province_code, 'province', province_name FROM ref.province
),
-- one decimal with a comma, as Vietnamese writes it (printf is slow over millions of rows)
-- and whole percentages
formatted AS (
    SELECT
        k.*,
        r.rule_set_id, r.version AS rule_set_version, r.numerator, r.capacity_effect,
        r.main_coverage_threshold, r.elderly_coverage_threshold,
        replace(CAST(CAST(k.weekly_rate AS DECIMAL(18, 1)) AS VARCHAR), '.', ',') AS rate_text,
        CAST(CAST(round(100 * coalesce(k.coverage_18plus_dose1, 0)) AS INTEGER) AS VARCHAR) AS coverage_text,
        CAST(CAST(round(100 * coalesce(k.coverage_65plus_full, 0)) AS INTEGER) AS VARCHAR) AS elderly_text
    FROM carried AS k
    JOIN rule_day AS r ON r.report_date = k.assessed_on
)
SELECT
    f.report_date, f.unit_type, f.unit_code, n.unit_name, f.province_code, f.district_code,
    f.level,
    ['green', 'yellow', 'orange', 'red'][f.level] AS colour,
    ['xanh', 'vàng', 'cam', 'đỏ'][f.level] AS colour_vi,
    round(f.weekly_rate, 2) AS cases_per_100k_week,
    f.transmission_band, f.coverage_18plus_dose1, f.main_coverage_met, f.coverage_65plus_full,
    f.elderly_coverage_met, f.elderly_raised, f.capacity_met, f.capacity_held,
    f.rule_set_id, f.rule_set_version,
    CASE WHEN f.has_data THEN concat_ws('; ',
            'Tỷ lệ ' || f.rate_text || ' ca/100.000 dân/tuần'
                || CASE WHEN f.numerator = 'community' THEN ' (cộng đồng)' ELSE '' END,
            f.coverage_text || '% người ≥18 tuổi tiêm ≥1 mũi ('
                || CASE WHEN f.main_coverage_met THEN '≥ ' ELSE '< ' END
                || CAST(CAST(round(100 * f.main_coverage_threshold) AS INTEGER) AS VARCHAR) || '%)',
            CASE WHEN f.elderly_raised THEN f.elderly_text || '% người ≥65 tuổi tiêm đủ liều (< '
                || CAST(CAST(round(100 * f.elderly_coverage_threshold) AS INTEGER) AS VARCHAR) || '%): tăng 1 cấp' END,
            CASE WHEN f.capacity_held AND f.capacity_effect = 'cannot_lower'
                 THEN 'chưa đáp ứng năng lực điều trị: không hạ cấp'
                 WHEN f.capacity_held THEN 'chưa đáp ứng năng lực điều trị: tăng 1 cấp' END
        ) || ' → cấp ' || f.level
        ELSE 'Không có số liệu ngày ' || strftime(f.report_date, '%d/%m/%Y')
             || '; giữ cấp ' || f.level || ' đánh giá ngày ' || strftime(f.assessed_on, '%d/%m/%Y')
    END AS reason,
    NOT f.has_data AS is_stale,
    f.assessed_on,
    f.previous_level,
    coalesce(f.level <> f.previous_level, false) AS level_changed,
    f.level_7_days_ago
FROM formatted AS f
JOIN unit_name AS n USING (unit_type, unit_code)
