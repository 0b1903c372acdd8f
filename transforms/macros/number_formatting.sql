{#- Number formatting for the level reasons, as Vietnamese writes it (decimal comma), with the
    decimals a comparison needs to be true: 79,96% < 80%, never "80% (< 80%)". DuckDB macros in
    the warehouse's main schema (on-run-start), so every model's connection has them. -#}
{% macro define_number_formatting() %}
CREATE OR REPLACE MACRO main.vi_number(x, decimals) AS replace(CASE decimals
    WHEN 0 THEN CAST(CAST(round(x, 0) AS BIGINT) AS VARCHAR)
    WHEN 1 THEN CAST(CAST(round(x, 1) AS DECIMAL(18, 1)) AS VARCHAR)
    WHEN 2 THEN CAST(CAST(round(x, 2) AS DECIMAL(18, 2)) AS VARCHAR)
    WHEN 3 THEN CAST(CAST(round(x, 3) AS DECIMAL(18, 3)) AS VARCHAR)
    ELSE CAST(CAST(round(x, 4) AS DECIMAL(18, 4)) AS VARCHAR) END, '.', ',');
-- fewest decimals (at least `least_decimals`) with which x, below `bound`, still shows below it
CREATE OR REPLACE MACRO main.decimals_below(x, bound, least_decimals) AS CASE
    WHEN bound IS NULL OR x >= bound OR round(x, least_decimals) < bound THEN least_decimals
    WHEN round(x, least_decimals + 1) < bound THEN least_decimals + 1
    WHEN round(x, least_decimals + 2) < bound THEN least_decimals + 2
    WHEN round(x, least_decimals + 3) < bound THEN least_decimals + 3
    ELSE least_decimals + 4 END;
-- a parameter as written: 70, 72,5, 0,25 (no trailing zeros)
CREATE OR REPLACE MACRO main.vi_plain(x) AS main.vi_number(x, CASE
    WHEN round(x, 0) = round(x, 6) THEN 0 WHEN round(x, 1) = round(x, 6) THEN 1
    WHEN round(x, 2) = round(x, 6) THEN 2 ELSE 3 END);
{% endmacro %}
