"""The hardened template sandbox."""

from __future__ import annotations

import pytest

from connectflow_dagster.errors import TemplateError
from connectflow_dagster.templates import MAX_OUTPUT_CHARS, render, render_value

CTX = {"stripe": {"raw": {"amount": 9900, "currency": "usd"}}, "items": [1, 2, 3], "name": "Ada"}


def test_text_and_single_expressions():
    assert (
        render("Paid {{ stripe.raw.amount / 100 }} {{ stripe.raw.currency | upper }}", CTX) == "Paid 99.0 USD"
    )
    assert render("{{ stripe.raw.amount }}", CTX) == 9900  # a lone expression keeps its type
    assert render("{{ items }}", CTX) == [1, 2, 3]
    assert render("{{ stripe.raw | json }}", CTX) == '{"amount": 9900, "currency": "usd"}'


def test_missing_variable_names_node_field_and_variable():
    with pytest.raises(TemplateError) as err:
        render("Hi {{ customer.name }}", CTX, node_id="mail", field="params.subject")
    assert err.value.node_id == "mail" and err.value.field == "params.subject"
    assert err.value.variable == "customer"
    assert "node 'mail', field 'params.subject': variable 'customer' is not defined" in str(err.value)


def test_missing_attribute_is_named():
    with pytest.raises(TemplateError) as err:
        render("{{ stripe.raw.customer }}", CTX, node_id="n", field="f")
    assert "customer" in str(err.value)


def test_render_value_walks_nested_params_and_names_the_path():
    out = render_value({"headers": {"X": "{{ name }}"}, "list": ["{{ items[0] }}"]}, CTX)
    assert out == {"headers": {"X": "Ada"}, "list": [1]}
    with pytest.raises(TemplateError) as err:
        render_value({"body": {"to": ["{{ nobody }}"]}}, CTX, node_id="n", field="params")
    assert err.value.field == "params.body.to[0]"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ name.__class__ }}",
        "{{ '{0.__class__}'.format(name) }}",
        "{{ 'x'.format_map({}) }}",
        "{{ lipsum() }}",
        "{{ cycler(1, 2) }}",
        "{{ joiner() }}",
        "{{ items.append(4) }}",
        "{% for i in range(100000000) %}{% endfor %}",
    ],
)
def test_unsafe_templates_are_refused(source):
    with pytest.raises(TemplateError):
        render(source, CTX, node_id="n", field="f")
    assert CTX["items"] == [1, 2, 3]


def test_str_format_is_refused_with_a_clear_message():
    with pytest.raises(TemplateError, match="template refused: access to attribute 'format'"):
        render("{{ 'x{}'.format(1) }}", CTX, node_id="n", field="f")


def test_output_size_is_limited():
    with pytest.raises(TemplateError, match="larger than"):
        render("{% for i in range(9000) %}" + "x" * 200 + "{% endfor %}", CTX)
    assert MAX_OUTPUT_CHARS < 9000 * 200


def test_context_values_are_data_never_template_source():
    ctx = {"body": {"text": "{{ 7 * 7 }}"}}
    assert render("{{ body.text }}", ctx) == "{{ 7 * 7 }}"
    assert render("got {{ body.text }}", ctx) == "got {{ 7 * 7 }}"


def test_syntax_errors_are_named():
    with pytest.raises(TemplateError, match="node 'n', field 'f': template syntax error"):
        render("{{ name ", CTX, node_id="n", field="f")


BIG = {"s": "x" * 1_000_000, "t": "a\tb" * 1000, "items": [1, 2, 3]}


@pytest.mark.parametrize(
    "source",
    [
        "{{ 9**(9**7) % 7 }}",
        "{{ [1]*(3*10**5) }}",
        "{{ 'x' * 2000000 }}",
        "{{ 'ab' | center(999999999) }}",
        "{{ s ~ s }}",
        "{{ s + s }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%(a)s%(a)s' % {'a': s} }}",
        "{{ s | replace('x', 'yy') }}",
        "{{ s.replace('x', 'yy') }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ t.expandtabs(100000) }}",
        "{{ 'ab' | wordwrap(1, wrapstring=s) }}",
        "{{ items | tojson(indent=10**6) }}",
        "{{ range(100) | batch(10**9, 'x') | list }}",
        "{{ -(10**1000) * -(10**1000) }}",
        "{{ 'abc'.translate({97: s}) }}",
        "{% set a = [s,s,s,s,s,s,s,s,s,s] %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}{{ b | string | length }}",
        "{% set x %}{% for i in range(10000) %}{{ s }}{% endfor %}{% endset %}{{ x | length }}",
        "{% macro m() %}{% for i in range(10000) %}{{ s }}{% endfor %}{% endmacro %}{{ m() | length }}",
        "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        "{{ [[1], [2]] | sum(start=[]) }}",
        "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    ],
)
def test_cpu_and_memory_bombs_fail_with_a_clear_error(source):
    with pytest.raises(TemplateError, match="node 'n', field 'f': template refused"):
        render(source, BIG, node_id="n", field="f")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 2 ** 100 }}", 2**100),
        ("{{ 10 ** 10 * 99 }}", 990_000_000_000),
        ("{{ items * 3 }}", [1, 2, 3] * 3),
        ("{{ items | sum }}", 6),
        ("{{ ('a' * 10) | center(14) }}", "  aaaaaaaaaa  "),
        ("{{ '%5.2f' % 3.14159 }}", " 3.14"),
        ("{{ ', '.join(['a', 'b']) }}", "a, b"),
        ("{{ ', '.join(items | map('string')) }}", "1, 2, 3"),
        ("{{ s | length }}", 1_000_000),
        ("n={{ items | length }}", "n=3"),
        ("{{ items | tojson(indent=2) | length }}", 17),
    ],
)
def test_ordinary_templates_are_unaffected_by_the_limits(source, expected):
    assert render(source, BIG) == expected
