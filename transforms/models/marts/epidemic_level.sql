-- The levels of intermediate.unit_level, worded: colours, the reason in Vietnamese, the unit's name.
WITH carried AS (
    SELECT * FROM {{ ref('unit_level') }}
    WHERE TRUE {{- since_rebuild() }}
),

rule_day AS (
    -- the rule set a level was assessed with: the one in force on the date of its data
    {{ rule_set_in_force('SELECT DISTINCT assessed_on AS report_date, province_code FROM carried') }}
),

in_force AS (
    -- the unit list in force on each date: the units' names come from it
    {{ reference_version_on('SELECT DISTINCT report_date FROM carried') }}
),

unit_name AS (
    SELECT reference_version, commune_code AS unit_code, 'commune' AS unit_type, commune_name AS unit_name
    FROM {{ source('ref', 'commune') }}
    UNION ALL
    SELECT reference_version, district_code AS unit_code, 'district' AS unit_type, district_name AS unit_name
    FROM {{ source('ref', 'district') }}
    UNION ALL
    SELECT reference_version, province_code AS unit_code, 'province' AS unit_type, province_name AS unit_name
    FROM {{ source('ref', 'province') }}
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
        'Tỷ lệ ' || main.vi_number(weekly_rate, main.decimals_below(weekly_rate, band_upper, 1))
            || ' ' || numerator_text
            || '/100.000 dân/tuần (' || window_text || '; '
            || CASE WHEN band_upper IS NULL THEN '≥ ' || main.vi_plain(band_lower)
                    WHEN band_lower = 0 THEN '< ' || main.vi_plain(band_upper)
                    ELSE main.vi_plain(band_lower) || ' đến < ' || main.vi_plain(band_upper) END
            || ': cấp ' || band_level || ')' AS transmission_text,
        main.vi_number(100 * coverage_18plus_dose1,
                  main.decimals_below(100 * coverage_18plus_dose1, round(100 * main_coverage_threshold, 6), 0))
            || '% người ≥18 tuổi tiêm ≥1 mũi ('
            || CASE WHEN main_coverage_met THEN '≥ ' ELSE '< ' END
            || main.vi_plain(100 * main_coverage_threshold) || '%)'
            AS main_text,
        CASE WHEN coverage_elderly_full IS NULL
             THEN 'chưa có số liệu người ≥' || elderly_age || ' tuổi tiêm đủ liều (coi như < '
                  || main.vi_plain(100 * elderly_coverage_threshold) || '%)'
             ELSE main.vi_number(100 * coverage_elderly_full,
                            main.decimals_below(
                                100 * coverage_elderly_full, round(100 * elderly_coverage_threshold, 6), 0
                            ))
                  || '% người ≥' || elderly_age || ' tuổi tiêm đủ liều (< '
                  || main.vi_plain(100 * elderly_coverage_threshold) || '%)' END AS elderly_text
    FROM formatted
)

SELECT
    f.report_date, v.reference_version, f.unit_type, f.unit_code, n.unit_name, f.province_code, f.district_code,
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
JOIN in_force AS v USING (report_date)
JOIN unit_name AS n USING (reference_version, unit_type, unit_code)
