"""Recorded runs quoted in the book agree with the data files they were read from.

Some measurements are too slow for the book build (hours of CPU at ``BOOK_SCALE=large``); the book
quotes them as *recorded runs*, and the run's output is kept under ``benchmarks/records/``.  These
tests recompute every number of the quoted table from that file, so the page cannot drift from it.
"""

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.experiments import random_starts as rs

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "08b_running_at_scale.md"
SECTION = "## Sample complexity at larger h"
SAMPLES = ROOT / "benchmarks" / "records" / "sample-complexity-large.csv"


def provenance(path: Path) -> dict[str, str]:
    lines = [line[2:].rstrip("\n") for line in open(path, encoding="utf-8") if line.startswith("# ")]
    return dict(line.split("=", 1) for line in lines)


def section() -> str:
    """The page's text from the recorded run's heading on, Unicode minus as ``-``."""
    return PAGE.read_text(encoding="utf-8").replace("\u2212", "-").split(SECTION, 1)[1]


def page_table() -> pd.DataFrame:
    """The section's first Markdown table, as strings."""
    lines = section().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    block = itertools.takewhile(lambda line: line.startswith("|"), lines[start:])
    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block]
    return pd.DataFrame(cells[2:], columns=cells[0])


@pytest.fixture(scope="module")
def record() -> tuple[pd.DataFrame, dict[str, str]]:
    return pd.read_csv(SAMPLES, comment="#"), provenance(SAMPLES)


@pytest.fixture(scope="module")
def quoted() -> pd.DataFrame:
    return page_table().set_index("method")


def test_the_record_is_the_command_the_page_shows(record):
    frame, header = record
    command = re.search(r"python -m lib sample-complexity (.*?)--out (\S+)", section(), re.S)
    assert command and command.group(2) == SAMPLES.name
    flags = " ".join(command.group(1).replace("\\", " ").split())
    assert f"--scale {header['scale']}" in flags and f"--h {header['h']}" in flags
    assert f"--seeds {header['seeds']}" in flags and f"--max-factor {float(header['max_factor']):g}" in flags
    assert header["command"] == "sample-complexity"
    h_values = [int(h) for h in header["h"].split()]
    assert len(frame) == len(h_values) * int(header["seeds"]) * len(header["methods"].split("; "))


def test_every_number_of_the_quoted_table_comes_from_the_record(record, quoted):
    frame, header = record
    assert list(quoted.index) == header["methods"].split("; ")
    h_values = [int(h) for h in header["h"].split()]
    for method, part in frame.groupby("method", sort=False):
        row = quoted.loc[method]
        b, low, high = rs.fit_exponent(part["h"].to_numpy(), part["N_star"].to_numpy())
        assert row.iloc[0] == f"{round(b, 2) + 0.0:.2f}"  # no "-0.00"
        if np.isfinite(low):
            assert row.iloc[1] == f"[{low:.2f}, {high:.2f}]"
        else:
            assert "no interval" in row.iloc[1]
        assert row.iloc[2] == f"{part['N_star'].notna().sum()}/{len(part)}"
        by_seed = part.pivot(index="seed", columns="h", values="N_star")[h_values]
        listed = "; ".join(", ".join("–" if np.isnan(v) else f"{v:.0f}" for v in values) for values in by_seed.to_numpy())
        assert row.iloc[3] == listed
        largest = part[part["h"] == max(h_values)]["cpu_seconds"].median()
        assert row.iloc[4] == f"{largest:.0f}"


def test_the_plateau_the_page_quotes_comes_from_the_record(record):
    frame, _ = record
    rows = [{**row, "attempts": json.loads(row["attempts"])} for row in frame.to_dict("records")]
    misses = rs.misses_at_cap(rows)
    text = " ".join(section().split())
    assert f"in those {len(misses)} runs" in text
    assert f"by at most {misses['change'].abs().max():.4f} and left it at" in text
    assert f"{misses['median_cos'].min():.3f} to {misses['median_cos'].max():.3f}" in text
