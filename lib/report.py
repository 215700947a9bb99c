"""Numbers and tables for reading: the formatting every chapter's prose and tables share.

Prose quotes computed numbers through ``glue``; a format spec such as ``:.0%`` cannot tell that
0.9995 is not "100%" or that 0 should read "0" and not "0e+00".  These helpers choose the digits
from the number itself, never print a rounded value that says more (or less) than the measurement,
and keep a number in one piece (non-breaking spaces inside "a × 10⁻ᵇ" and "a ± b").

Tables go through :func:`table_html`: cells that never wrap inside a number, and, for a table
that cannot fit the text column, a ``wide-table`` container (scrolls horizontally, with a visible
hint; styled by the book's CSS).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from IPython.display import HTML

from lib import _validate as check

__all__ = ["number", "percent", "plus_minus", "count_of", "listing", "yes_no", "table_html"]

NBSP = "\u00a0"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _finite(value: object, name: str) -> float:
    if isinstance(value, np.generic):
        value = value.item()
    return check.real(value, name)


def number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits, as a reader writes it.

    Plain decimals between 10⁻³ and 10⁶ ("0.0071", "1.07", "13,488"), otherwise
    "1.6 × 10⁻⁵" (non-breaking spaces); zero is "0".  Trailing zeros are kept only up to
    ``digits`` significant digits.

    Parameters
    ----------
    value : float
        A finite real number.
    digits : int
        Significant digits, at least 1.

    Examples
    --------
    >>> number(0.0071234, 2), number(1.6e-5, 2), number(0.0), number(13488.0, 3)
    ('0.0071', '1.6\u00a0×\u00a010⁻⁵', '0', '13,488')
    """
    value = _finite(value, "value")
    digits = check.integer(digits, "digits", minimum=1, maximum=17)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if abs(round(value, digits - 1 - magnitude)) >= 10 ** (magnitude + 1):
        magnitude += 1  # 9.96 -> 10.0
    if -3 <= magnitude < 6:
        decimals = max(0, digits - 1 - magnitude)
        return f"{value:,.{decimals}f}"
    mantissa = value / 10**magnitude
    text = f"{mantissa:.{digits - 1}f}"
    return f"{text}{NBSP}×{NBSP}10{str(magnitude).translate(_SUPERSCRIPT)}"


def percent(fraction: float, digits: int = 2) -> str:
    """A fraction in [0, 1] as a percentage that never rounds onto 0 % or 100 % unless it is exactly that.

    ``digits`` significant digits of the percentage (at least one decimal below 10 %), then more
    decimals as long as the value would otherwise print as "100%" or "0%"; beyond four decimals it
    reads "> 99.9999%" or "< 0.0001%".

    Examples
    --------
    >>> percent(0.999), percent(0.99995), percent(1.0), percent(0.0), percent(0.56), percent(0.0023)
    ('99.9%', '99.995%', '100%', '0%', '56%', '0.23%')
    """
    fraction = _finite(fraction, "fraction")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    digits = check.integer(digits, "digits", minimum=1, maximum=17)
    if fraction in (0.0, 1.0):
        return f"{fraction * 100:.0f}%"
    value = fraction * 100
    for decimals in range(max(0, digits - 1 - math.floor(math.log10(value))), 5):
        text = f"{value:.{decimals}f}"
        if 0 < float(text) < 100:
            return text + "%"
    return "> 99.9999%" if value > 50 else "< 0.0001%"


def plus_minus(value: float, error: float) -> str:
    """``value ± error`` rounded at the error's first significant digit (its first two when that digit is 1).

    Examples
    --------
    >>> plus_minus(0.0061234, 0.0000312)
    '0.00612\u00a0±\u00a00.00003'
    """
    value = _finite(value, "value")
    error = check.real(error.item() if isinstance(error, np.generic) else error, "error", minimum=0.0)
    if error == 0:
        return f"{number(value, 4)}{NBSP}±{NBSP}0"
    lead_text, exponent = f"{error:.0e}".split("e")  # rounded first digit: 0.0996 reads 1e-01
    lead, magnitude = int(lead_text), int(exponent)
    decimals = -magnitude + (1 if lead == 1 else 0)
    if decimals <= 0:
        step = 10 ** (-decimals)
        return f"{round(value / step) * step:,.0f}{NBSP}±{NBSP}{round(error / step) * step:,.0f}"
    return f"{value:.{decimals}f}{NBSP}±{NBSP}{error:.{decimals}f}"


def count_of(count: int, total: int, noun: str = "") -> str:
    """"all 5 sizes", "none of the 5 sizes" or "3 of the 5 sizes" (``noun`` may be empty).

    Examples
    --------
    >>> count_of(5, 5, "sizes"), count_of(0, 3, "cells"), count_of(2, 4)
    ('all 5 sizes', 'none of the 3 cells', '2 of the 4')
    """
    total = check.integer(total, "total", minimum=1)
    count = check.integer(count, "count", minimum=0, maximum=total)
    if not isinstance(noun, str):
        raise TypeError(f"noun must be a string, got {type(noun).__name__}")
    tail = f" {noun}" if noun else ""
    if count == total:
        return f"all {total}{tail}" if total > 2 else (f"both{tail}" if total == 2 else f"the one{tail or ' case'}")
    if count == 0:
        return f"none of the {total}{tail}"
    return f"{count} of the {total}{tail}"


def listing(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"; one item when all are equal.

    Examples
    --------
    >>> listing(["1.00", "1.00", "1.00"]), listing(["256", "512", "1024"])
    ('1.00', '256, 512 and 1024')
    """
    if isinstance(items, str) or not isinstance(items, Sequence) or not items:
        raise ValueError("items must be a non-empty sequence of strings")
    items = [str(item) for item in items]
    if len(set(items)) == 1:
        return items[0]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def yes_no(flag: bool) -> str:
    """"✓" for ``True``, "✗" for ``False`` (tables show no Python booleans)."""
    return "✓" if check.flag(flag, "flag") else "✗"


def table_html(frame: pd.DataFrame, *, wide: bool = False, index: bool = True, caption: str = "") -> HTML:
    """An HTML table of already formatted cells: no wrapping inside a cell, ``wide-table`` container if ``wide``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, every cell already a string (format with :func:`number`, :func:`percent`, ...).
    wide : bool
        Wrap the table in ``<div class="wide-table">`` (a horizontally scrollable block with a
        visible scroll hint) for tables that cannot fit the text column.
    index : bool
        Show the index as the first column.
    caption : str
        Optional caption above the table.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    wide, index = check.flag(wide, "wide"), check.flag(index, "index")
    if not isinstance(caption, str):
        raise TypeError(f"caption must be a string, got {type(caption).__name__}")
    styler = frame.style.set_table_styles([
        {"selector": "td, th", "props": [("white-space", "nowrap"), ("padding", "0.25em 0.6em"), ("font-size", "0.9em")]},
        {"selector": "td", "props": [("text-align", "right")]},
    ])
    if not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    html = styler.to_html()
    return HTML(f'<div class="wide-table">{html}</div>' if wide else html)
