-- Every unit (commune, district, province) on every report date with its pooled figures:
-- a district or the province is assessed on the sum of its communes' cases over the sum
-- of their population (4800/QĐ-BYT), never by counting commune levels.
WITH pooled AS (
    SELECT
        report_date,
        CASE WHEN grouping(commune_code) = 0 THEN 'commune'
             WHEN grouping(district_code) = 0 THEN 'district'
             ELSE 'province' END AS unit_type,
        province_code,
        district_code,
        commune_code,
        count(*) AS communes_expected,
        count(*) FILTER (WHERE reported) AS communes_reported,
        count(DISTINCT district_code) AS districts_expected,
        count(DISTINCT district_code) FILTER (WHERE reported) AS districts_reported,
        -- a district has one file in force per date: its id and version say where the figures came from
        any_value(submission_id) AS submission_id,
        max(submission_version) AS submission_version,
        sum(population) AS population,
        sum(population_18plus) AS population_18plus,
        sum(population_65plus) AS population_65plus,
        sum(new_cases) AS new_cases,
        sum(new_cases_community) AS new_cases_community,
        sum(f1_traced) AS f1_traced,
        sum(tests_performed) AS tests_performed,
        sum(tests_positive) AS tests_positive,
        sum(recovered) AS recovered,
        sum(deaths) AS deaths,
        sum(in_treatment) AS in_treatment,
        sum(severe) AS severe,
        sum(quarantine_centralized) AS quarantine_centralized,
        sum(quarantine_home) AS quarantine_home,
        sum(returnees) AS returnees,
        sum(mobile_medical_stations) AS mobile_medical_stations,
        sum(new_cases_7d) AS new_cases_7d,
        sum(community_7d) AS community_7d,
        sum(new_cases_14d) AS new_cases_14d,
        sum(community_14d) AS community_14d,
        sum(new_cases_prev_7d) AS new_cases_prev_7d,
        sum(dose1_known) AS vaccinated_18plus_dose1,
        sum(full_known) AS vaccinated_18plus_full,
        sum(full65_known) AS vaccinated_65plus_full
    FROM staging.commune_window
    GROUP BY GROUPING SETS (
        (report_date, province_code, district_code, commune_code),
        (report_date, province_code, district_code),
        (report_date, province_code)
    )
)
SELECT
    p.*,
    CASE p.unit_type WHEN 'commune' THEN p.commune_code
                     WHEN 'district' THEN p.district_code
                     ELSE p.province_code END AS unit_code,
    coalesce(c.commune_name, d.district_name, pr.province_name) AS unit_name,
    p.communes_reported > 0 AS has_data,
    round(p.tests_positive / nullif(p.tests_performed, 0), 4) AS test_positivity,
    round(p.new_cases_7d * 100000.0 / nullif(p.population, 0), 2) AS cases_per_100k_week,
    round(p.community_7d * 100000.0 / nullif(p.population, 0), 2) AS community_per_100k_week,
    round(p.vaccinated_18plus_dose1 / nullif(p.population_18plus, 0), 4) AS coverage_18plus_dose1,
    round(p.vaccinated_18plus_full / nullif(p.population_18plus, 0), 4) AS coverage_18plus_full,
    round(p.vaccinated_65plus_full / nullif(p.population_65plus, 0), 4) AS coverage_65plus_full,
    cap.treatment_beds,
    cap.icu_beds
FROM pooled AS p
LEFT JOIN ref.commune AS c ON p.unit_type = 'commune' AND c.commune_code = p.commune_code
LEFT JOIN ref.district AS d ON p.unit_type = 'district' AND d.district_code = p.district_code
LEFT JOIN ref.province AS pr ON p.unit_type = 'province' AND pr.province_code = p.province_code
LEFT JOIN ref.treatment_capacity AS cap
    ON cap.unit_type = p.unit_type
   AND cap.unit_code = CASE p.unit_type WHEN 'district' THEN p.district_code ELSE p.province_code END
