"""lib.report: numbers and tables formatted for reading."""

import numpy as np
import pandas as pd
import pytest

from lib import report


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(0.0071234, 2, "0.0071"), (0.0, 3, "0"), (1.07, 3, "1.07"), (13488.0, 3, "13,488"), (-0.25, 2, "-0.25"),
     (1.6e-5, 2, "1.6\u00a0×\u00a010⁻⁵"), (2.5e7, 2, "2.5\u00a0×\u00a010⁷"), (9.996, 3, "10.0"), (np.float64(0.5), 1, "0.5")],
)
def test_number(value, digits, text):
    assert report.number(value, digits) == text


@pytest.mark.parametrize(
    ("fraction", "text"),
    [(0.999, "99.9%"), (0.99995, "99.995%"), (1.0, "100%"), (0.0, "0%"), (0.56, "56%"), (0.0023, "0.23%"),
     (1e-9, "< 0.0001%"), (1 - 1e-9, "> 99.9999%"), (0.5, "50%")],
)
def test_percent_never_rounds_onto_the_ends(fraction, text):
    assert report.percent(fraction) == text


def test_plus_minus_rounds_at_the_error():
    assert report.plus_minus(0.0061234, 0.0000312) == "0.00612\u00a0±\u00a00.00003"
    assert report.plus_minus(0.0061234, 0.000012) == "0.006123\u00a0±\u00a00.000012"
    assert report.plus_minus(1234.5, 56.0) == "1,230\u00a0±\u00a060"
    assert report.plus_minus(0.5, 0.0) == "0.5000\u00a0±\u00a00"
    assert report.plus_minus(15.1123, 0.0996) == "15.11\u00a0±\u00a00.10"


def test_counts_and_lists_read_as_words():
    assert report.count_of(5, 5, "sizes") == "all 5 sizes"
    assert report.count_of(2, 2, "radii") == "both radii"
    assert report.count_of(0, 3) == "none of the 3"
    assert report.count_of(1, 4, "cells") == "1 of the 4 cells"
    assert report.listing(["1.000", "1.000"]) == "1.000"
    assert report.listing(["a", "b", "c"]) == "a, b and c"
    assert report.yes_no(True) == "✓" and report.yes_no(np.bool_(False)) == "✗"


def test_table_html_keeps_numbers_whole_and_marks_wide_tables():
    frame = pd.DataFrame({"x": ["0.0071\u00a0±\u00a00.0001"]}, index=pd.Index([256], name="h"))
    html = report.table_html(frame, wide=True).data
    assert html.startswith('<div class="wide-table">') and "white-space: nowrap" in html and "0.0071" in html
    assert "wide-table" not in report.table_html(frame).data


@pytest.mark.parametrize(
    ("call", "error"),
    [(lambda: report.number(float("nan")), ValueError), (lambda: report.number(True), TypeError),
     (lambda: report.number(1.0, 0), ValueError), (lambda: report.percent(1.5), ValueError),
     (lambda: report.plus_minus(1.0, -1.0), ValueError), (lambda: report.count_of(4, 3), ValueError),
     (lambda: report.listing([]), ValueError), (lambda: report.yes_no(1), TypeError),
     (lambda: report.table_html([[1]]), TypeError)],
)
def test_bad_inputs_are_rejected(call, error):
    with pytest.raises(error):
        call()
