-- Rebuilt with the levels, and for the decision's date alone after each decision (bantin.signoff).
WITH latest AS (
    SELECT *
    FROM {{ source('ops', 'level_decision') }}
    WHERE TRUE {{- since_rebuild() }}
    QUALIFY row_number() OVER (PARTITION BY report_date, unit_type, unit_code ORDER BY decided_at DESC) = 1
)
SELECT
    l.report_date, l.reference_version, l.unit_type, l.unit_code, l.unit_name, l.district_code,
    l.level AS computed_level,
    d.declared_level,
    -- the one reading of the level announced: the Director's declared level, else the computed one
    coalesce(d.declared_level, l.level) AS level_in_force,
    coalesce(d.status, 'provisional') AS status,
    d.computed_level AS computed_level_at_decision,
    coalesce(d.declared_level <> l.level, false) AS differs,
    d.decided_by, d.decided_at, d.reason AS decision_reason, d.channel
FROM {{ ref('epidemic_level') }} AS l
LEFT JOIN latest AS d USING (report_date, unit_type, unit_code)
WHERE TRUE {{- since_rebuild('l.report_date') }}
