-- One row per report date for the province: the same figures as marts.district_daily,
-- pooled over all its communes, plus how many districts reported.
-- @column report_date: Report date (ngày báo cáo)
-- @column province_code: GSO province code
-- @column province_name: Province name
-- @column districts_expected: Districts in the province
-- @column districts_reported: Districts with at least one commune row accepted for this date
-- @column communes_expected: Communes in the unit (reference list)
-- @column communes_reported: Communes with a row in an accepted submission for this date
-- @column population: Total population (reference, 2019 census basis; see reference/README.md)
-- @column population_18plus: Population aged 18+
-- @column population_65plus: Population aged 65+
-- @column population_50plus: Population aged 50+ (estimate; for rule sets whose elderly group is 50+)
-- @column commune_days_reported_7d: Commune-days with a report in the 7 days ending on the report date (complete: communes_expected × 7)
-- @column new_cases: New cases on the report date, summed over reporting communes (NULL when none reported)
-- @column new_cases_community: Of which in the community
-- @column f1_traced: New F1 contacts traced
-- @column tests_performed: Samples tested
-- @column tests_positive: Positive samples
-- @column test_positivity: tests_positive / tests_performed
-- @column recovered: Recovered on the report date
-- @column deaths: Deaths on the report date
-- @column in_treatment: In treatment at the end of the day
-- @column severe: Of which severe
-- @column quarantine_centralized: In centralised quarantine
-- @column quarantine_home: In home quarantine
-- @column returnees: Returned from epidemic areas
-- @column mobile_medical_stations: Mobile medical stations ready at the end of the day (stock)
-- @column new_cases_7d: New cases over the 7 days ending on the report date
-- @column community_7d: Community cases over the 7 days ending on the report date
-- @column new_cases_prev_7d: New cases over the 7 days before those (days -13 to -7)
-- @column cases_per_100k_week: All new cases over the last 7 days per 100,000 population
-- @column community_per_100k_week: Community cases over the last 7 days per 100,000 population (4800 criterion 1 by default)
-- @column vaccinated_18plus_dose1: People aged 18+ with at least one dose, last figure known for each commune
-- @column vaccinated_18plus_full: People aged 18+ fully vaccinated, last figure known for each commune
-- @column vaccinated_65plus_full: People aged 65+ fully vaccinated, last figure known for each commune
-- @column vaccinated_50plus_full: People aged 50+ fully vaccinated, last figure known for each commune (optional column: NULL where never reported)
-- @column coverage_18plus_dose1: Share of people aged 18+ with at least one dose (0-1)
-- @column coverage_18plus_full: Share of people aged 18+ fully vaccinated (0-1)
-- @column coverage_65plus_full: Share of people aged 65+ fully vaccinated (0-1)
-- @column coverage_50plus_full: Share of people aged 50+ fully vaccinated (0-1)
SELECT
    report_date,
    province_code,
    unit_name AS province_name,
    districts_expected,
    districts_reported,
    * EXCLUDE (report_date, province_code, district_code, commune_code, unit_type, unit_code, unit_name,
              districts_expected, districts_reported, has_data, treatment_beds, icu_beds,
              new_cases_14d, community_14d,
              commune_days_reported_14d, population_days_7d, population_days_14d, missing_units_7d,
              missing_units_14d,
              submission_id, submission_version)
FROM staging.unit_daily
WHERE unit_type = 'province'
