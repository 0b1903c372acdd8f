-- Migration 4: raw.submission_row's columns in the contract's order, whatever order a warehouse gained them in.
-- A warehouse made before vaccinated_50plus_full gained it at the end (ADD COLUMN); a new one has it in
-- the contract's place. The models select the raw columns with `*`, so the marts' columns followed that
-- order: an upgraded warehouse's marts differed from a fresh one's. Rewritten once, in the same order for all.
CREATE TABLE raw.submission_row_in_order (
    submission_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    report_date DATE,
    district_code BIGINT,
    commune_code BIGINT,
    commune_name VARCHAR,
    new_cases BIGINT,
    new_cases_community BIGINT,
    f1_traced BIGINT,
    tests_performed BIGINT,
    tests_positive BIGINT,
    recovered BIGINT,
    deaths BIGINT,
    in_treatment BIGINT,
    severe BIGINT,
    quarantine_centralized BIGINT,
    quarantine_home BIGINT,
    returnees BIGINT,
    vaccinated_18plus_dose1 BIGINT,
    vaccinated_18plus_full BIGINT,
    vaccinated_65plus_full BIGINT,
    vaccinated_50plus_full BIGINT,
    mobile_medical_stations BIGINT,
    notes VARCHAR
);
INSERT INTO raw.submission_row_in_order (submission_id, source_row, report_date, district_code, commune_code, commune_name, new_cases, new_cases_community, f1_traced, tests_performed, tests_positive, recovered, deaths, in_treatment, severe, quarantine_centralized, quarantine_home, returnees, vaccinated_18plus_dose1, vaccinated_18plus_full, vaccinated_65plus_full, vaccinated_50plus_full, mobile_medical_stations, notes)
SELECT submission_id, source_row, report_date, district_code, commune_code, commune_name, new_cases, new_cases_community, f1_traced, tests_performed, tests_positive, recovered, deaths, in_treatment, severe, quarantine_centralized, quarantine_home, returnees, vaccinated_18plus_dose1, vaccinated_18plus_full, vaccinated_65plus_full, vaccinated_50plus_full, mobile_medical_stations, notes FROM raw.submission_row;
DROP TABLE raw.submission_row;
ALTER TABLE raw.submission_row_in_order RENAME TO submission_row;
