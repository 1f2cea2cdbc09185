"""The HTML diff shows 500 rows; the note under it counts exactly the differences left out.

Found by bench/mutation.py: ``len(differences) - MAX_HEAT_ROWS`` -> ``**`` and ``%`` survived: with 501
differences the old test's "1 more differences" is also a suffix of 501**500 and equals 501 % 500.
"""

from __future__ import annotations

import re

import pytest

from envcapture import compare
from envcapture.compare.html import render_html

from .conftest import edited
from .test_compare_views import many_differences


@pytest.mark.parametrize("count", [502, 1203])
def test_the_note_counts_the_differences_left_out(base, count):
    result = compare.compare([base, edited(base, many_differences(base, count, 0))], ["envcapture.json", "live"])
    assert len(result.differences) == count
    page = render_html(result, "diff")
    assert page.count('<th class="what">') == 500
    assert re.findall(r"(\d+) more differences: --format json lists every one", page) == [str(count - 500)]
