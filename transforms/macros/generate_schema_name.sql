{#- A model's schema is the one its folder names (marts, intermediate, staging), never
    dbt's default <target schema>_<custom schema>: analysts query marts.commune_daily. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
