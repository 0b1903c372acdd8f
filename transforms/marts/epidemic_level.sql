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
WITH in_force AS (
    SELECT u.*, rs.* EXCLUDE (name, legal_basis, file_name, effective_from)
    FROM staging.unit_daily AS u
    JOIN ref.rule_set AS rs ON rs.effective_from <= u.report_date
    QUALIFY row_number() OVER (
        PARTITION BY u.report_date, u.unit_type, u.unit_code
        ORDER BY rs.effective_from DESC, rs.version DESC) = 1
),
criteria AS (
    SELECT
        *,
        coalesce(CASE WHEN numerator = 'community'
             THEN CASE WHEN window_days = 7 THEN community_7d ELSE community_14d / 2.0 END
             ELSE CASE WHEN window_days = 7 THEN new_cases_7d ELSE new_cases_14d / 2.0 END
        -- a unit without population (none in the reference today) has no rate: counted as 0, not dropped
        END * 100000.0 / nullif(population, 0), 0) AS weekly_rate,
        CASE WHEN window_days = 7 THEN new_cases_7d ELSE new_cases_14d END > 0 AS cases_in_window,
        coalesce(coverage_18plus_dose1 >= main_coverage_threshold, false) AS main_coverage_met,
        coalesce(coverage_65plus_full >= elderly_coverage_threshold, false) AS elderly_coverage_met,
        coalesce(CASE unit_type
            WHEN 'commune' THEN mobile_medical_stations >= commune_min_mobile_stations
            WHEN 'district' THEN treatment_beds >= district_min_treatment_beds
            ELSE icu_beds * 100000.0 / nullif(population, 0) >= province_min_icu_beds_per_100k
        END, false) AS capacity_met
    FROM in_force
    WHERE has_data
),
matrix AS (
    SELECT
        c.*,
        b.band AS transmission_band,
        m.level AS matrix_level,
        elderly_adjustment AND NOT elderly_coverage_met
            AND NOT (elderly_exempt_if_no_case AND NOT cases_in_window) AS elderly_raised
    FROM criteria AS c
    JOIN ref.rule_set_band AS b
        ON b.rule_set_id = c.rule_set_id AND b.version = c.version
       AND c.weekly_rate >= b.lower_bound
       AND (b.upper_bound IS NULL OR c.weekly_rate < b.upper_bound)
    JOIN ref.rule_set_matrix AS m
        ON m.rule_set_id = c.rule_set_id AND m.version = c.version AND m.band = b.band AND m.coverage_met = c.main_coverage_met
),
adjusted AS (
    SELECT
        *,
        least(4, matrix_level + CASE WHEN elderly_raised THEN 1 ELSE 0 END) AS criteria_level,
        -- cannot_lower: while capacity fails, the level may not fall below the previous
        -- assessment, i.e. it is the highest level since capacity was last met.
        count(*) FILTER (WHERE capacity_met) OVER (
            PARTITION BY unit_type, unit_code ORDER BY report_date ROWS UNBOUNDED PRECEDING) AS capacity_epoch
    FROM matrix
),
assessed AS (
    SELECT
        *,
        CASE
            WHEN capacity_met OR capacity_effect = 'none' THEN criteria_level
            WHEN capacity_effect = 'raise_one' THEN least(4, criteria_level + 1)
            ELSE max(criteria_level) OVER (
                PARTITION BY unit_type, unit_code, capacity_epoch ORDER BY report_date ROWS UNBOUNDED PRECEDING)
        END AS level
    FROM adjusted
),
explained AS (
    SELECT
        *,
        level <> criteria_level AS capacity_held,
        concat_ws('; ',
            'Tỷ lệ ' || replace(printf('%.1f', weekly_rate), '.', ',') || ' ca/100.000 dân/tuần'
                || CASE WHEN numerator = 'community' THEN ' (cộng đồng)' ELSE '' END,
            printf('%.0f', 100 * coalesce(coverage_18plus_dose1, 0)) || '% người ≥18 tuổi tiêm ≥1 mũi ('
                || CASE WHEN main_coverage_met THEN '≥ ' ELSE '< ' END
                || printf('%.0f', 100 * main_coverage_threshold) || '%)',
            CASE WHEN elderly_raised THEN printf('%.0f', 100 * coalesce(coverage_65plus_full, 0))
                || '% người ≥65 tuổi tiêm đủ liều (< ' || printf('%.0f', 100 * elderly_coverage_threshold)
                || '%): tăng 1 cấp' END,
            CASE WHEN level > criteria_level AND capacity_effect = 'cannot_lower'
                 THEN 'chưa đáp ứng năng lực điều trị: không hạ cấp'
                 WHEN level > criteria_level THEN 'chưa đáp ứng năng lực điều trị: tăng 1 cấp' END
        ) || ' → cấp ' || level AS reason
    FROM assessed
),
spine AS (
    -- every unit and date from the first date a rule set was in force, with or without data
    SELECT u.report_date, u.unit_type, u.unit_code, u.unit_name, u.province_code, u.district_code
    FROM staging.unit_daily AS u
    WHERE u.report_date >= (SELECT min(effective_from) FROM ref.rule_set)
),
carried AS (
    SELECT
        s.*,
        e.level IS NULL AS is_stale,
        last_value(e.report_date IGNORE NULLS) OVER unit_history AS assessed_on
    FROM spine AS s
    LEFT JOIN explained AS e USING (report_date, unit_type, unit_code)
    WINDOW unit_history AS (PARTITION BY s.unit_type, s.unit_code ORDER BY s.report_date ROWS UNBOUNDED PRECEDING)
),
leveled AS (
    SELECT
        c.report_date, c.unit_type, c.unit_code, c.unit_name, c.province_code, c.district_code,
        e.level,
        e.weekly_rate, e.transmission_band, e.coverage_18plus_dose1, e.main_coverage_met,
        e.coverage_65plus_full, e.elderly_coverage_met, e.elderly_raised, e.capacity_met, e.capacity_held,
        e.rule_set_id, e.version AS rule_set_version,
        CASE WHEN c.is_stale
             THEN 'Không có số liệu ngày ' || strftime(c.report_date, '%d/%m/%Y')
                  || '; giữ cấp ' || e.level || ' đánh giá ngày ' || strftime(c.assessed_on, '%d/%m/%Y')
             ELSE e.reason END AS reason,
        c.is_stale,
        c.assessed_on
    FROM carried AS c
    JOIN explained AS e
        ON e.report_date = c.assessed_on AND e.unit_type = c.unit_type AND e.unit_code = c.unit_code
)
SELECT
    report_date, unit_type, unit_code, unit_name, province_code, district_code,
    level,
    ['green', 'yellow', 'orange', 'red'][level] AS colour,
    ['xanh', 'vàng', 'cam', 'đỏ'][level] AS colour_vi,
    round(weekly_rate, 2) AS cases_per_100k_week,
    transmission_band,
    coverage_18plus_dose1, main_coverage_met, coverage_65plus_full, elderly_coverage_met, elderly_raised,
    capacity_met, capacity_held,
    rule_set_id, rule_set_version, reason, is_stale, assessed_on,
    lag(level) OVER unit_days AS previous_level,
    coalesce(level <> lag(level) OVER unit_days, false) AS level_changed,
    lag(level, 7) OVER unit_days AS level_7_days_ago
FROM leveled
WINDOW unit_days AS (PARTITION BY unit_type, unit_code ORDER BY report_date)
