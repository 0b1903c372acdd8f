-- A correction to an earlier date changes that date's ledger fingerprint, so the incremental run
-- rebuilds from it: the pairs of the dates rebuilt are all it needs to read.
WITH good AS (
    SELECT
        submission_id,
        district_code,
        report_date,
        version,
        received_at,
        is_late,
        lag(submission_id) OVER arrival AS from_submission_id,
        lag(version) OVER arrival AS from_version
    FROM {{ source('ops', 'submission') }}
    WHERE
        status IN ('accepted', 'superseded') AND report_date IS NOT NULL {{- since_rebuild() }}
    WINDOW arrival AS (PARTITION BY district_code, report_date ORDER BY version)
),

pair AS (
    SELECT * FROM good
    WHERE from_submission_id IS NOT NULL
),

old_row AS (
    SELECT
        p.submission_id AS pair_id,
        r.* EXCLUDE (submission_id)
    FROM pair AS p INNER JOIN {{ source('raw', 'submission_row') }} AS r ON p.from_submission_id = r.submission_id
    WHERE r.commune_code IS NOT NULL
),

new_row AS (
    SELECT
        p.submission_id AS pair_id,
        r.* EXCLUDE (submission_id)
    FROM pair AS p INNER JOIN {{ source('raw', 'submission_row') }} AS r ON p.submission_id = r.submission_id
    WHERE r.commune_code IS NOT NULL
),

commune_pair AS (
    -- a commune present in only one of the two versions counts as absent (NULL) in the other
    SELECT
        p.report_date,
        p.district_code,
        p.from_submission_id,
        p.from_version,
        p.submission_id AS to_submission_id,
        p.version AS to_version,
        p.received_at AS corrected_at,
        p.is_late AS after_cutoff,
        coalesce(n.commune_code, o.commune_code) AS commune_code,
        o.new_cases AS new_cases_before,
        n.new_cases AS new_cases_after,
        {{- metric_deltas('n', 'o') }}
    FROM new_row AS n
    FULL OUTER JOIN old_row AS o ON n.pair_id = o.pair_id AND n.commune_code = o.commune_code
    INNER JOIN pair AS p ON p.submission_id = coalesce(n.pair_id, o.pair_id)
),

rolled AS (
    SELECT
        report_date,
        district_code,
        from_submission_id,
        from_version,
        to_submission_id,
        to_version,
        corrected_at,
        after_cutoff,
        CASE WHEN grouping(commune_code) = 0 THEN 'commune' ELSE 'district' END AS unit_type,
        coalesce(commune_code, district_code) AS unit_code,
        sum(new_cases_before) AS new_cases_before,
        sum(new_cases_after) AS new_cases_after,
        {{- summed_deltas() }}
    FROM commune_pair
    -- each commune, and the district (commune_code rolled up)
    GROUP BY
        report_date, district_code, from_submission_id, from_version, to_submission_id, to_version,
        corrected_at, after_cutoff, rollup(commune_code)
),

in_force AS (
    -- the unit list in force on each date: the units' names come from it
    {{ reference_version_on('SELECT DISTINCT report_date FROM rolled') }}
)

SELECT
    r.report_date,
    v.reference_version,
    r.unit_type,
    r.unit_code,
    coalesce(c.commune_name, d.district_name) AS unit_name,
    d.province_code,
    r.district_code,
    r.* EXCLUDE (report_date, unit_type, unit_code, district_code)
FROM rolled AS r
INNER JOIN in_force AS v ON r.report_date = v.report_date
INNER JOIN {{ source('ref', 'district') }} AS d
    ON v.reference_version = d.reference_version AND r.district_code = d.district_code
LEFT JOIN {{ source('ref', 'commune') }} AS c
    ON r.unit_type = 'commune' AND v.reference_version = c.reference_version AND r.unit_code = c.commune_code
WHERE {{ any_delta('r') }}
    OR r.new_cases_before IS DISTINCT FROM r.new_cases_after
