{#- Incremental builds replace the report dates from var rebuild_from on (bantin.models computes it
    from the ledger: the first date whose files changed, or the first new date). -#}

{#- The first report date this run rebuilds, as a SQL DATE; NULL-safe for a hand-run build. -#}
{% macro rebuild_from() -%}
    {%- if var('rebuild_from') -%} DATE '{{ var("rebuild_from") }}' {%- else -%} DATE '0001-01-01' {%- endif -%}
{%- endmacro %}

{#- `AND <column> >= rebuild_from` on an incremental run, nothing on a full one. -#}
{% macro since_rebuild(column='report_date', days_before=0) -%}
    {%- if is_incremental() %} AND {{ column }} >= {{ rebuild_from() }} - {{ days_before }}{% endif -%}
{%- endmacro %}

{#- pre_hook of the incremental models: every row from rebuild_from on goes, whether or not the
    new rows have that date again (delete+insert alone only replaces the dates it inserts). -#}
{% macro delete_rebuilt_dates() -%}
    {%- if is_incremental() -%} DELETE FROM {{ this }} WHERE report_date >= {{ rebuild_from() }} {%- endif -%}
{%- endmacro %}

{#- A carried value's state on the last date before the ones rebuilt (the `seed` CTE, alias s);
    NULL on a full build. -#}
{% macro seeded_state(column) -%}
    {{- 's.' ~ column if is_incremental() else 'NULL' -}}
{%- endmacro %}
