-- Computed and declared levels side by side, one row per report date and unit: the
-- Director's decision in force (the latest in ops.level_decision) beside the level
-- bantin computed. status provisional: no decision yet (the bulletin says "cấp độ đề
-- xuất, chưa phê duyệt"). Rebuilt after every decision (bantin.signoff).
-- @column report_date: Report date (ngày báo cáo)
-- @column unit_type: commune, district or province
-- @column unit_code: GSO code of the unit
-- @column unit_name: Name of the unit
-- @column district_code: GSO district code (NULL for the province)
-- @column computed_level: Level bantin computes now (marts.epidemic_level)
-- @column declared_level: Level the Director declared (NULL while provisional)
-- @column status: approved (declared = computed when decided), overridden (another level, with a reason) or provisional
-- @column computed_level_at_decision: Computed level when the decision was taken (a later resubmission may change the computed one)
-- @column differs: Declared and computed levels differ
-- @column decided_by: Who decided
-- @column decided_at: When (local time)
-- @column decision_reason: The Director's reason (required for an override)
-- @column channel: airflow_hitl (the daily_bulletin run's sign-off task) or cli (bantin levels)
WITH latest AS (
    SELECT *
    FROM ops.level_decision
    QUALIFY row_number() OVER (PARTITION BY report_date, unit_type, unit_code ORDER BY decided_at DESC) = 1
)
SELECT
    l.report_date, l.unit_type, l.unit_code, l.unit_name, l.district_code,
    l.level AS computed_level,
    d.declared_level,
    coalesce(d.status, 'provisional') AS status,
    d.computed_level AS computed_level_at_decision,
    coalesce(d.declared_level <> l.level, false) AS differs,
    d.decided_by, d.decided_at, d.reason AS decision_reason, d.channel
FROM marts.epidemic_level AS l
LEFT JOIN latest AS d USING (report_date, unit_type, unit_code)
