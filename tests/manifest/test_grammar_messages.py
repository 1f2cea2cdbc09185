"""How a refused value is shown in the one-line error: escaped, whole up to 120 characters of JSON, cut past it.

Found by bench/mutation.py: ``len(text) <= 120`` mutated to ``!= 120`` (a 121-character value shown whole, a
120-character one cut) survived every test.
"""

from __future__ import annotations

import pytest

from envcapture.errors import BadInput
from envcapture.manifest import grammar


def value_of_json_length(n: int) -> str:
    return "a" * (n - 2)  # json.dumps adds the two quotes


def test_a_value_of_120_json_characters_is_shown_whole():
    value = value_of_json_length(120)
    assert grammar.quote_for_message(value) == f'"{value}"'


@pytest.mark.parametrize("length", [121, 5000])
def test_a_longer_value_is_cut_to_100_characters_and_its_length_named(length):
    value = value_of_json_length(length)
    shown = grammar.quote_for_message(value)
    assert shown == f'"{value[:99]}..." ({len(value)} characters)'


def test_the_refusal_of_a_long_hostile_value_stays_one_short_line():
    value = "x; $(id)\n" * 40
    with pytest.raises(BadInput) as refused:
        grammar.require("dist-name", value, "python_packages[0].name")
    message = str(refused.value)
    assert message.startswith('python_packages[0].name: "x; $(id)\\nx; $(id)')
    assert "\n" not in message
    assert f"({len(value)} characters) is not a" in message
    assert len(message) < 200
