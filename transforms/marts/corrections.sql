-- Corrections: what a later version of a district's file changed in an earlier version's
-- figures, per commune and per district, one row per unit and pair of consecutive accepted
-- versions (status accepted or superseded). The day's own figures in the other marts always
-- come from the version in force; a correction is listed here, apart from them, so no
-- "new cases" figure ever goes negative to absorb it. A version that changes nothing has no row.
-- @column report_date: Report date whose figures were corrected
-- @column unit_type: commune or district
-- @column unit_code: GSO code of the commune or district
-- @column unit_name: Name of the unit (reference list)
-- @column province_code: GSO province code
-- @column district_code: GSO district code
-- @column from_submission_id: Ledger id of the version corrected (ops.submission)
-- @column from_version: Its version number for this district and date
-- @column to_submission_id: Ledger id of the correcting version
-- @column to_version: Its version number
-- @column corrected_at: When the correcting version arrived (local time)
-- @column after_cutoff: The correcting version arrived after the report date's cutoff (its figures may already have been published)
-- @column new_cases_before: New cases in the corrected version
-- @column new_cases_after: New cases in the correcting version
-- @column new_cases_delta: Change in new cases (after - before; may be negative)
-- @column new_cases_community_delta: Change in community cases
-- @column deaths_delta: Change in deaths
-- @column recovered_delta: Change in recovered
-- @column tests_performed_delta: Change in samples tested
-- @column tests_positive_delta: Change in positive samples
-- @column in_treatment_delta: Change in patients in treatment
-- @column severe_delta: Change in severe patients
-- @column f1_traced_delta: Change in F1 contacts traced
-- @column quarantine_centralized_delta: Change in people in centralised quarantine
-- @column quarantine_home_delta: Change in people in home quarantine
-- @column returnees_delta: Change in returnees from epidemic areas
-- @column vaccinated_18plus_dose1_delta: Change in people aged 18+ with at least one dose
-- @column vaccinated_18plus_full_delta: Change in people aged 18+ fully vaccinated
-- @column vaccinated_65plus_full_delta: Change in people aged 65+ fully vaccinated
-- @column vaccinated_50plus_full_delta: Change in people aged 50+ fully vaccinated
-- @column mobile_medical_stations_delta: Change in mobile medical stations
WITH good AS (
    SELECT
        submission_id, district_code, report_date, version, received_at, is_late,
        lag(submission_id) OVER arrival AS from_submission_id,
        lag(version) OVER arrival AS from_version
    FROM ops.submission
    WHERE status IN ('accepted', 'superseded') AND report_date IS NOT NULL
    WINDOW arrival AS (PARTITION BY district_code, report_date ORDER BY version)
),
pair AS (
    SELECT * FROM good WHERE from_submission_id IS NOT NULL
),
old_row AS (
    SELECT p.submission_id AS pair_id, r.* EXCLUDE (submission_id)
    FROM pair AS p JOIN raw.submission_row AS r ON r.submission_id = p.from_submission_id
    WHERE r.commune_code IS NOT NULL
),
new_row AS (
    SELECT p.submission_id AS pair_id, r.* EXCLUDE (submission_id)
    FROM pair AS p JOIN raw.submission_row AS r ON r.submission_id = p.submission_id
    WHERE r.commune_code IS NOT NULL
),
commune_pair AS (
    -- a commune present in only one of the two versions counts as absent (NULL) in the other
    SELECT
        p.report_date, p.district_code, p.from_submission_id, p.from_version,
        p.submission_id AS to_submission_id, p.version AS to_version,
        p.received_at AS corrected_at, p.is_late AS after_cutoff,
        coalesce(n.commune_code, o.commune_code) AS commune_code,
        o.new_cases AS new_cases_before, n.new_cases AS new_cases_after,
        coalesce(n.new_cases, 0) - coalesce(o.new_cases, 0) AS new_cases_delta,
        coalesce(n.new_cases_community, 0) - coalesce(o.new_cases_community, 0) AS new_cases_community_delta,
        coalesce(n.deaths, 0) - coalesce(o.deaths, 0) AS deaths_delta,
        coalesce(n.recovered, 0) - coalesce(o.recovered, 0) AS recovered_delta,
        coalesce(n.tests_performed, 0) - coalesce(o.tests_performed, 0) AS tests_performed_delta,
        coalesce(n.tests_positive, 0) - coalesce(o.tests_positive, 0) AS tests_positive_delta,
        coalesce(n.in_treatment, 0) - coalesce(o.in_treatment, 0) AS in_treatment_delta,
        coalesce(n.severe, 0) - coalesce(o.severe, 0) AS severe_delta,
        coalesce(n.f1_traced, 0) - coalesce(o.f1_traced, 0) AS f1_traced_delta,
        coalesce(n.quarantine_centralized, 0) - coalesce(o.quarantine_centralized, 0) AS quarantine_centralized_delta,
        coalesce(n.quarantine_home, 0) - coalesce(o.quarantine_home, 0) AS quarantine_home_delta,
        coalesce(n.returnees, 0) - coalesce(o.returnees, 0) AS returnees_delta,
        coalesce(n.vaccinated_18plus_dose1, 0) - coalesce(o.vaccinated_18plus_dose1, 0) AS vaccinated_18plus_dose1_delta,
        coalesce(n.vaccinated_18plus_full, 0) - coalesce(o.vaccinated_18plus_full, 0) AS vaccinated_18plus_full_delta,
        coalesce(n.vaccinated_65plus_full, 0) - coalesce(o.vaccinated_65plus_full, 0) AS vaccinated_65plus_full_delta,
        coalesce(n.vaccinated_50plus_full, 0) - coalesce(o.vaccinated_50plus_full, 0) AS vaccinated_50plus_full_delta,
        coalesce(n.mobile_medical_stations, 0) - coalesce(o.mobile_medical_stations, 0) AS mobile_medical_stations_delta
    FROM new_row AS n
    FULL OUTER JOIN old_row AS o ON o.pair_id = n.pair_id AND o.commune_code = n.commune_code
    JOIN pair AS p ON p.submission_id = coalesce(n.pair_id, o.pair_id)
),
rolled AS (
    SELECT
        report_date, district_code, from_submission_id, from_version, to_submission_id, to_version,
        corrected_at, after_cutoff,
        CASE WHEN grouping(commune_code) = 0 THEN 'commune' ELSE 'district' END AS unit_type,
        coalesce(commune_code, district_code) AS unit_code,
        sum(new_cases_before) AS new_cases_before,
        sum(new_cases_after) AS new_cases_after,
        sum(new_cases_delta) AS new_cases_delta,
        sum(new_cases_community_delta) AS new_cases_community_delta,
        sum(deaths_delta) AS deaths_delta,
        sum(recovered_delta) AS recovered_delta,
        sum(tests_performed_delta) AS tests_performed_delta,
        sum(tests_positive_delta) AS tests_positive_delta,
        sum(in_treatment_delta) AS in_treatment_delta,
        sum(severe_delta) AS severe_delta,
        sum(f1_traced_delta) AS f1_traced_delta,
        sum(quarantine_centralized_delta) AS quarantine_centralized_delta,
        sum(quarantine_home_delta) AS quarantine_home_delta,
        sum(returnees_delta) AS returnees_delta,
        sum(vaccinated_18plus_dose1_delta) AS vaccinated_18plus_dose1_delta,
        sum(vaccinated_18plus_full_delta) AS vaccinated_18plus_full_delta,
        sum(vaccinated_65plus_full_delta) AS vaccinated_65plus_full_delta,
        sum(vaccinated_50plus_full_delta) AS vaccinated_50plus_full_delta,
        sum(mobile_medical_stations_delta) AS mobile_medical_stations_delta
    FROM commune_pair
    GROUP BY GROUPING SETS (
        (report_date, district_code, from_submission_id, from_version, to_submission_id, to_version,
         corrected_at, after_cutoff, commune_code),
        (report_date, district_code, from_submission_id, from_version, to_submission_id, to_version,
         corrected_at, after_cutoff)
    )
)
SELECT
    r.report_date, r.unit_type, r.unit_code,
    coalesce(c.commune_name, d.district_name) AS unit_name,
    d.province_code, r.district_code,
    r.* EXCLUDE (report_date, unit_type, unit_code, district_code)
FROM rolled AS r
JOIN ref.district AS d ON d.district_code = r.district_code
LEFT JOIN ref.commune AS c ON r.unit_type = 'commune' AND c.commune_code = r.unit_code
WHERE r.new_cases_delta <> 0 OR r.new_cases_community_delta <> 0 OR r.deaths_delta <> 0
   OR r.recovered_delta <> 0 OR r.tests_performed_delta <> 0 OR r.tests_positive_delta <> 0
   OR r.in_treatment_delta <> 0 OR r.severe_delta <> 0 OR r.f1_traced_delta <> 0
   OR r.quarantine_centralized_delta <> 0
   OR r.quarantine_home_delta <> 0
   OR r.returnees_delta <> 0
   OR r.vaccinated_18plus_dose1_delta <> 0
   OR r.vaccinated_18plus_full_delta <> 0
   OR r.vaccinated_65plus_full_delta <> 0
   OR r.vaccinated_50plus_full_delta <> 0
   OR r.mobile_medical_stations_delta <> 0
   OR r.new_cases_before IS DISTINCT FROM r.new_cases_after
