-- Epidemic level (cấp độ dịch) of every commune, district and the province on every report
-- date from the first rule set in force, per the rule set in force for the province and date
-- (the rule-set folder, bantin.levels). Missing data never makes a unit greener: on an
-- incomplete window the level may not fall below the previous one. A unit with no data on
-- the date keeps its last level, marked stale.
-- @column report_date: Report date (ngày báo cáo)
-- @column unit_type: commune, district or province
-- @column unit_code: GSO code of the unit
-- @column unit_name: Name of the unit
-- @column province_code: GSO province code
-- @column district_code: GSO district code (NULL for the province)
-- @column level: 1 green (nguy cơ thấp), 2 yellow (trung bình), 3 orange (cao), 4 red (rất cao)
-- @column colour: green, yellow, orange or red
-- @column colour_vi: xanh, vàng, cam or đỏ
-- @column criteria_level: Level the criteria give on this window, before capacity and completeness holds
-- @column cases_per_100k_week: Criterion 1: cases per 100,000 population per week (numerator and window per the rule set; over the commune-days reported when the window is incomplete)
-- @column transmission_band: Band 1-4 of criterion 1
-- @column coverage_18plus_dose1: Criterion 2: share of people aged 18+ with at least one dose
-- @column main_coverage_met: Coverage of 18+ at or above the rule set's threshold
-- @column coverage_65plus_full: Share of people aged 65+ fully vaccinated
-- @column elderly_age: Elderly group of the rule set: 65 (65+) or 50 (50+)
-- @column coverage_elderly_full: Share of the elderly group (elderly_age+) fully vaccinated
-- @column elderly_coverage_met: Elderly coverage at or above the rule set's threshold
-- @column elderly_raised: The level was raised one step for low elderly coverage (false when the main-coverage raise already counted, by coverage_raise one_level)
-- @column capacity_met: Criterion 3: treatment capacity met (commune: mobile stations; district: treatment beds; province: ICU beds per 100,000)
-- @column capacity_held: Failing capacity kept the level from falling (effect cannot_lower) or raised it (raise_one)
-- @column window_days: Days of the trailing window (7, or 14 halved to a week)
-- @column commune_days_reported: Commune-days with a report in the window
-- @column commune_days_expected: Commune-days the window needs: communes × window days (days before the first data count as missing)
-- @column is_complete: Every commune reported every day of the window
-- @column completeness_held: The window is incomplete and the level is kept at the previous one, which was higher
-- @column missing_units: Units with data missing in the window: a district's communes, the province's districts
-- @column rule_set_id: Rule set applied, e.g. 4800/QĐ-BYT
-- @column rule_set_version: Version of that rule set file
-- @column reason: One-line explanation in Vietnamese
-- @column is_stale: True when the unit had no data on this date and keeps an earlier level
-- @column assessed_on: Date of the data the level was computed from
-- @column previous_level: Level on the previous report date
-- @column level_changed: Level differs from the previous report date
-- @column level_7_days_ago: Level seven days earlier
WITH rule_day AS (
    -- the rule set in force for each province and report date: the latest effective_from on or
    -- before it, among the national ones and those scoped to the province (scoped first on a tie)
    SELECT d.report_date, d.province_code, rs.* EXCLUDE (name, legal_basis, file_name, effective_from, province_codes)
    FROM (SELECT DISTINCT report_date, province_code FROM staging.unit_daily) AS d
    JOIN ref.rule_set AS rs ON rs.effective_from <= d.report_date
        AND (rs.province_codes IS NULL OR list_contains(rs.province_codes, d.province_code))
    QUALIFY row_number() OVER (PARTITION BY d.report_date, d.province_code
                               ORDER BY rs.effective_from DESC, rs.province_codes IS NOT NULL DESC,
                                        rs.version DESC) = 1
),
criteria AS (
    -- narrow rows (the windows below sort them): one per unit and date, with or without data
    SELECT
        u.report_date, u.unit_type, u.unit_code, u.province_code, u.district_code, u.has_data,
        -- one integer key per unit: sorting on it is cheaper than on (unit_type, unit_code)
        CASE u.unit_type WHEN 'commune' THEN 0 WHEN 'district' THEN 1 ELSE 2 END * 100000000 + u.unit_code AS unit_key,
        u.coverage_18plus_dose1, u.coverage_65plus_full,
        CASE r.elderly_age WHEN 50 THEN u.coverage_50plus_full ELSE u.coverage_65plus_full END AS coverage_elderly_full,
        r.*  EXCLUDE (report_date, province_code),
        CASE WHEN r.window_days = 7 THEN u.commune_days_reported_7d ELSE u.commune_days_reported_14d END
            AS commune_days_reported,
        u.communes_expected * r.window_days AS commune_days_expected,
        CASE WHEN r.window_days = 7 THEN u.missing_units_7d ELSE u.missing_units_14d END AS missing_units,
        -- weekly rate over the population-days that reported: the plain rate on a complete window;
        -- on an incomplete one, days not reported (before the first data too) are not taken as zero cases
        coalesce(CASE WHEN r.numerator = 'community'
             THEN CASE WHEN r.window_days = 7 THEN u.community_7d ELSE u.community_14d END
             ELSE CASE WHEN r.window_days = 7 THEN u.new_cases_7d ELSE u.new_cases_14d END
        END * 7 * 100000.0 / nullif(CASE WHEN r.window_days = 7 THEN u.population_days_7d ELSE u.population_days_14d END,
                                   0), 0) AS weekly_rate,
        CASE WHEN r.window_days = 7 THEN u.new_cases_7d ELSE u.new_cases_14d END > 0 AS cases_in_window,
        coalesce(u.coverage_18plus_dose1 >= r.main_coverage_threshold, false) AS main_coverage_met,
        -- no figure for the elderly group counts as not met: missing data never lowers a level
        coalesce(CASE r.elderly_age WHEN 50 THEN u.coverage_50plus_full ELSE u.coverage_65plus_full END
                 >= r.elderly_coverage_threshold, false) AS elderly_coverage_met,
        coalesce(CASE u.unit_type
            WHEN 'commune' THEN u.mobile_medical_stations >= r.commune_min_mobile_stations
            WHEN 'district' THEN u.treatment_beds >= r.district_min_treatment_beds
            ELSE u.icu_beds * 100000.0 / nullif(u.population, 0) >= r.province_min_icu_beds_per_100k
        END, false) AS capacity_met
    FROM staging.unit_daily AS u
    JOIN rule_day AS r USING (report_date, province_code)
),
matrix AS (
    SELECT
        *,
        len(list_filter(band_lower_bounds, lambda lower: lower <= weekly_rate)) AS transmission_band,
        elderly_adjustment AND NOT elderly_coverage_met
            AND NOT (elderly_exempt_if_no_case AND NOT cases_in_window) AS elderly_short
    FROM criteria
),
raised AS (
    SELECT
        *,
        CASE WHEN main_coverage_met THEN level_if_coverage_met ELSE level_if_coverage_not_met END[transmission_band]
            AS matrix_level,
        -- one_level: the elderly shortfall raises the band's level (coverage met) by one, and the main
        -- shortfall's raise already is that one level; additive: it adds one more
        least(4, CASE WHEN coverage_raise = 'additive'
            THEN CASE WHEN main_coverage_met THEN level_if_coverage_met ELSE level_if_coverage_not_met END[transmission_band]
                 + CASE WHEN elderly_short THEN 1 ELSE 0 END
            ELSE greatest(
                CASE WHEN main_coverage_met THEN level_if_coverage_met ELSE level_if_coverage_not_met END[transmission_band],
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
        has_data AND commune_days_reported >= commune_days_expected AS is_complete,
        CASE WHEN has_data THEN raised_level END AS criteria_level,
        has_data AND raised_level > matrix_level AS elderly_raised
    FROM raised
),
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
    FROM leveled_by_criteria
),
capacity_checked AS (
    SELECT
        *,
        CASE WHEN NOT has_data THEN NULL
             WHEN capacity_met OR capacity_effect = 'none' THEN criteria_level
             WHEN capacity_effect = 'raise_one' THEN least(4, criteria_level + 1)
             ELSE max(criteria_level) OVER (
                PARTITION BY unit_key, capacity_epoch ORDER BY report_date ROWS UNBOUNDED PRECEDING)
        END AS capacity_level
    FROM adjusted
),
assessed AS (
    -- criteria values of days without data are NULL here: the window below carries the last ones forward
    SELECT
        report_date, unit_type, unit_code, unit_key, province_code, district_code, has_data,
        CASE WHEN has_data THEN max(capacity_level) OVER (
            PARTITION BY unit_key, completeness_epoch ORDER BY report_date ROWS UNBOUNDED PRECEDING) END AS level,
        criteria_level,
        capacity_level,
        CASE WHEN has_data THEN weekly_rate END AS weekly_rate,
        CASE WHEN has_data THEN transmission_band END AS transmission_band,
        CASE WHEN has_data THEN coverage_18plus_dose1 END AS coverage_18plus_dose1,
        CASE WHEN has_data THEN main_coverage_met END AS main_coverage_met,
        CASE WHEN has_data THEN coverage_65plus_full END AS coverage_65plus_full,
        CASE WHEN has_data THEN coverage_elderly_full END AS coverage_elderly_full,
        CASE WHEN has_data THEN elderly_coverage_met END AS elderly_coverage_met,
        CASE WHEN has_data THEN elderly_short END AS elderly_short,
        CASE WHEN has_data THEN elderly_raised END AS elderly_raised,
        CASE WHEN has_data THEN capacity_met END AS capacity_met,
        commune_days_reported, commune_days_expected, missing_units, is_complete
    FROM capacity_checked
),
carried AS (
    -- a day without data keeps the last assessment. The calendar may skip from the last data
    -- to a later report date (staging.calendar): "7 days before" is a range of days, not rows.
    SELECT
        report_date, unit_type, unit_code, unit_key, province_code, district_code, has_data,
        commune_days_reported, commune_days_expected, missing_units, is_complete,
        max(report_date) FILTER (WHERE has_data) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS assessed_on,
        last_value(level IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS level,
        last_value(criteria_level IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS criteria_level,
        last_value(capacity_level > criteria_level IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING)
            AS capacity_held,
        last_value(level > capacity_level IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING)
            AS completeness_held,
        last_value(weekly_rate IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS weekly_rate,
        last_value(transmission_band IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS transmission_band,
        last_value(coverage_18plus_dose1 IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS coverage_18plus_dose1,
        last_value(main_coverage_met IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS main_coverage_met,
        last_value(coverage_65plus_full IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS coverage_65plus_full,
        last_value(coverage_elderly_full IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS coverage_elderly_full,
        last_value(elderly_coverage_met IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS elderly_coverage_met,
        last_value(elderly_short IGNORE NULLS) OVER (unit_days ROWS UNBOUNDED PRECEDING) AS elderly_short,
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
-- the pieces of the reason, in Vietnamese, with the decimals each comparison needs (bantin.levels macros)
formatted AS (
    SELECT
        k.*,
        r.rule_set_id, r.version AS rule_set_version, r.numerator, r.window_days, r.capacity_effect,
        r.coverage_raise, r.elderly_age, r.main_coverage_threshold, r.elderly_coverage_threshold,
        r.band_lower_bounds[k.transmission_band] AS band_lower,
        r.band_lower_bounds[k.transmission_band + 1] AS band_upper,
        r.level_if_coverage_met[k.transmission_band] AS band_level,
        CASE WHEN r.numerator = 'community' THEN 'ca cộng đồng' ELSE 'ca mắc mới' END AS numerator_text,
        CASE WHEN r.window_days = 7 THEN '7 ngày' ELSE '14 ngày chia 2' END AS window_text
    FROM carried AS k
    JOIN rule_day AS r ON r.report_date = k.assessed_on AND r.province_code = k.province_code
),
worded AS (
    SELECT
        *,
        'Tỷ lệ ' || vi_number(weekly_rate, decimals_below(weekly_rate, band_upper, 1)) || ' ' || numerator_text
            || '/100.000 dân/tuần (' || window_text || '; '
            || CASE WHEN band_upper IS NULL THEN '≥ ' || vi_plain(band_lower)
                    WHEN band_lower = 0 THEN '< ' || vi_plain(band_upper)
                    ELSE vi_plain(band_lower) || ' đến < ' || vi_plain(band_upper) END
            || ': cấp ' || band_level || ')' AS transmission_text,
        vi_number(100 * coverage_18plus_dose1,
                  decimals_below(100 * coverage_18plus_dose1, round(100 * main_coverage_threshold, 6), 0))
            || '% người ≥18 tuổi tiêm ≥1 mũi ('
            || CASE WHEN main_coverage_met THEN '≥ ' ELSE '< ' END || vi_plain(100 * main_coverage_threshold) || '%)'
            AS main_text,
        CASE WHEN coverage_elderly_full IS NULL
             THEN 'chưa có số liệu người ≥' || elderly_age || ' tuổi tiêm đủ liều (coi như < '
                  || vi_plain(100 * elderly_coverage_threshold) || '%)'
             ELSE vi_number(100 * coverage_elderly_full,
                            decimals_below(100 * coverage_elderly_full, round(100 * elderly_coverage_threshold, 6), 0))
                  || '% người ≥' || elderly_age || ' tuổi tiêm đủ liều (< '
                  || vi_plain(100 * elderly_coverage_threshold) || '%)' END AS elderly_text
    FROM formatted
)
SELECT
    f.report_date, f.unit_type, f.unit_code, n.unit_name, f.province_code, f.district_code,
    f.level,
    ['green', 'yellow', 'orange', 'red'][f.level] AS colour,
    ['xanh', 'vàng', 'cam', 'đỏ'][f.level] AS colour_vi,
    f.criteria_level,
    round(f.weekly_rate, 2) AS cases_per_100k_week,
    f.transmission_band, f.coverage_18plus_dose1, f.main_coverage_met, f.coverage_65plus_full,
    f.elderly_age, f.coverage_elderly_full,
    f.elderly_coverage_met, f.elderly_raised, f.capacity_met, f.capacity_held,
    f.window_days, f.commune_days_reported, f.commune_days_expected,
    coalesce(f.is_complete, false) AS is_complete,
    coalesce(f.completeness_held, false) AS completeness_held,
    coalesce(f.missing_units, []) AS missing_units,
    f.rule_set_id, f.rule_set_version,
    CASE WHEN f.has_data THEN concat_ws('; ',
            f.transmission_text,
            f.main_text,
            CASE WHEN NOT f.elderly_coverage_met AND f.elderly_raised THEN f.elderly_text || ': tăng 1 cấp'
                 WHEN NOT f.elderly_coverage_met AND f.elderly_short AND f.criteria_level = 4
                     THEN f.elderly_text || ': đã ở cấp 4'
                 WHEN NOT f.elderly_coverage_met AND f.elderly_short
                     THEN f.elderly_text || ': không tăng thêm (thiếu độ bao phủ chỉ tăng tối đa 1 cấp)'
                 WHEN NOT f.elderly_coverage_met
                     THEN f.elderly_text || ': không tăng vì không có ca mắc trong ' || f.window_days || ' ngày' END,
            CASE WHEN f.capacity_held AND f.capacity_effect = 'cannot_lower'
                 THEN 'chưa đáp ứng năng lực điều trị: không hạ cấp'
                 WHEN f.capacity_held THEN 'chưa đáp ứng năng lực điều trị: tăng 1 cấp' END,
            CASE WHEN NOT coalesce(f.is_complete, false) THEN
                'số liệu chưa đủ: ' || f.commune_days_reported || '/' || f.commune_days_expected || ' xã-ngày trong '
                || f.window_days || ' ngày'
                || CASE WHEN len(coalesce(f.missing_units, [])) > 0
                        THEN ', thiếu ' || array_to_string(f.missing_units[1:3], ', ')
                             || CASE WHEN len(f.missing_units) > 3
                                     THEN ' và ' || (len(f.missing_units) - 3) || ' đơn vị khác' ELSE '' END
                        ELSE '' END
                || CASE WHEN f.completeness_held
                        THEN ' (giữ cấp ' || f.level || ', không hạ cấp khi thiếu số liệu; theo số liệu có: cấp '
                             || f.criteria_level || ')'
                        ELSE '' END
            END
        ) || ' → cấp ' || f.level
        ELSE 'Không có số liệu ngày ' || strftime(f.report_date, '%d/%m/%Y')
             || '; giữ cấp ' || f.level || ' đánh giá ngày ' || strftime(f.assessed_on, '%d/%m/%Y')
    END AS reason,
    NOT f.has_data AS is_stale,
    f.assessed_on,
    f.previous_level,
    coalesce(f.level <> f.previous_level, false) AS level_changed,
    f.level_7_days_ago
FROM worded AS f
JOIN unit_name AS n USING (unit_type, unit_code)
