"""``python -m lib``: the commands run, write their CSV, and reject bad arguments in one line."""

import subprocess
import sys

import pandas as pd
import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib", *args], capture_output=True, text=True, timeout=300)


def test_landscape_writes_csv(tmp_path):
    out = tmp_path / "line.csv"
    result = run("landscape", "--h", "64", "--p", "0.1", "--steps", "3", "--samples", "256", "--batches", "4",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert frame["t"].tolist() == [-1.5, 0.0, 1.5]
    assert {"loss", "grad_norm", "noise_floor", "active_fraction"} <= set(frame.columns)


def test_table1_writes_csv(tmp_path):
    out = tmp_path / "table1.csv"
    result = run("table1", "--scale", "smoke", "--points", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 12  # smoke: 3 values of h times the 4 values of p
    assert {"h", "p", "corrected", "standard_error", "noise_floor", "paper", "ratio"} <= set(frame.columns)
    assert "Table 1" in result.stderr  # the progress bar


def test_help():
    result = run("--help")
    assert result.returncode == 0 and "table1" in result.stdout and "landscape" in result.stdout


@pytest.mark.parametrize("args, words", [
    ((), "required"),
    (("tabel1",), "invalid choice"),
    (("table1", "--scale", "huge", "--out", "x.csv"), "--scale"),
    (("table1", "--out", "/no/such/folder/x.csv"), "does not exist"),
    (("table1", "--points", "0", "--scale", "smoke", "--out", "x.csv"), "points"),
    (("landscape", "--p", "0.1", "--out", "x.csv"), "--h"),
    (("landscape", "--h", "x", "--p", "0.1", "--out", "x.csv"), "invalid int"),
    (("landscape", "--h", "1", "--p", "0.1", "--out", "x.csv"), "h must be >= 2"),
    (("landscape", "--h", "64", "--p", "1.5", "--out", "x.csv"), "p must be < 1"),
    (("landscape", "--h", "64", "--p", "0.1", "--steps", "1", "--out", "x.csv"), "--steps"),
    (("landscape", "--h", "64", "--p", "0.1", "--low", "3", "--out", "x.csv"), "high must be > low"),
    (("landscape", "--h", "64", "--p", "0.1", "--delta", "-1", "--out", "x.csv"), "delta"),
])
def test_bad_arguments_give_one_line(tmp_path, args, words):
    result = subprocess.run([sys.executable, "-m", "lib", *args], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m lib: error:"), result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.stderr
