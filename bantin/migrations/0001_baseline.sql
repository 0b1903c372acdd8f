-- Migration 1, the baseline: the warehouse's schema as bantin created it on every open before
-- migrations existed (bantin/warehouse.py DDL at the start of #13). IF NOT EXISTS and
-- ADD COLUMN IF NOT EXISTS let it adopt a warehouse made by any earlier release in place.
-- Shipped: never edit; change the schema with a new migration (bantin/store.py MIGRATIONS).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS ref;
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE IF NOT EXISTS ops.submission (
    submission_id VARCHAR PRIMARY KEY,
    district_code INTEGER NOT NULL,
    report_date DATE,
    file_name VARCHAR NOT NULL,
    landing_path VARCHAR NOT NULL,
    archive_path VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    version INTEGER,
    status VARCHAR NOT NULL,
    error_count INTEGER NOT NULL DEFAULT 0,
    warning_count INTEGER NOT NULL DEFAULT 0,
    is_late BOOLEAN NOT NULL,
    headers_json VARCHAR,
    channel VARCHAR,
    provenance_json VARCHAR
);
-- warehouses made before receipts were recorded
ALTER TABLE ops.submission ADD COLUMN IF NOT EXISTS channel VARCHAR;
ALTER TABLE ops.submission ADD COLUMN IF NOT EXISTS provenance_json VARCHAR;

CREATE TABLE IF NOT EXISTS ops.finding (
    submission_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    source_row INTEGER,
    column_name VARCHAR,
    header VARCHAR,
    value VARCHAR,
    message_vi VARCHAR NOT NULL,
    message_en VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS ops.report_day (
    report_date DATE PRIMARY KEY,
    requested_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS ops.pipeline_run (
    run_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    report_date DATE,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    seconds DOUBLE NOT NULL,
    stats_json VARCHAR,
    try_number INTEGER
);
-- warehouses made before try_number was recorded
ALTER TABLE ops.pipeline_run ADD COLUMN IF NOT EXISTS try_number INTEGER;

CREATE TABLE IF NOT EXISTS ops.build_state (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS ops.build_input (
    district_code INTEGER NOT NULL,
    report_date DATE NOT NULL,
    fingerprint VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS ops.f0_alert (
    report_date DATE NOT NULL,
    commune_code INTEGER NOT NULL,
    district_code INTEGER NOT NULL,
    submission_id VARCHAR NOT NULL,
    new_cases_community BIGINT NOT NULL,
    alerted_at TIMESTAMP NOT NULL,
    recipients VARCHAR NOT NULL,
    sent BOOLEAN NOT NULL,
    outbox_path VARCHAR NOT NULL,
    PRIMARY KEY (report_date, commune_code)
);

CREATE TABLE IF NOT EXISTS ops.level_decision (
    report_date DATE NOT NULL,
    unit_type VARCHAR NOT NULL,
    unit_code INTEGER NOT NULL,
    computed_level INTEGER NOT NULL,
    declared_level INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    decided_by VARCHAR NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    reason VARCHAR,
    channel VARCHAR NOT NULL,
    rule_set_id VARCHAR,
    rule_set_version INTEGER
);

CREATE TABLE IF NOT EXISTS raw.submission_row (
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
-- columns of the submission contract added after a warehouse was made (optional ones): NULL
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS report_date DATE;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS district_code BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS commune_code BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS commune_name VARCHAR;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS new_cases BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS new_cases_community BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS f1_traced BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS tests_performed BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS tests_positive BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS recovered BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS deaths BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS in_treatment BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS severe BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS quarantine_centralized BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS quarantine_home BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS returnees BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS vaccinated_18plus_dose1 BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS vaccinated_18plus_full BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS vaccinated_65plus_full BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS vaccinated_50plus_full BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS mobile_medical_stations BIGINT;
ALTER TABLE raw.submission_row ADD COLUMN IF NOT EXISTS notes VARCHAR;
