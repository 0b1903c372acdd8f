{#- The submission contract's columns (var submission_columns, from bantin.submission_format.COLUMNS):
    the per-metric SQL is written once here, so a new count column reaches every model. -#}

{#- Names of the count columns of the given kinds (daily, stock, cumulative); all of them by default. -#}
{% macro count_columns(kinds=none) -%}
    {%- set names = [] -%}
    {%- for column in var('submission_columns') -%}
        {%- if column.type == 'integer' and column.kind != 'id' and (kinds is none or column.kind in kinds) -%}
            {%- do names.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(names) -}}
{%- endmacro %}

{#- `sum(<prefix>name) AS name` for each count column of the kinds, as BIGINT (pooling communes). -#}
{% macro pooled_sums(kinds, prefix='') -%}
    {%- for name in count_columns(kinds) %}
    CAST(sum({{ prefix }}{{ name }}) AS BIGINT) AS {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- What a correcting version changed: `after - before` per count column (absent counts as 0). -#}
{% macro metric_deltas(after, before) -%}
    {%- for name in count_columns() %}
    coalesce({{ after }}.{{ name }}, 0) - coalesce({{ before }}.{{ name }}, 0) AS {{ name }}_delta{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- `sum(name_delta) AS name_delta` for each count column. -#}
{% macro summed_deltas() -%}
    {%- for name in count_columns() %}
    sum({{ name }}_delta) AS {{ name }}_delta{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- True when any count column changed. -#}
{% macro any_delta(relation) -%}
    {%- for name in count_columns() -%}
    {{ relation }}.{{ name }}_delta <> 0{{ " OR " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
