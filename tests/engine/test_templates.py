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
