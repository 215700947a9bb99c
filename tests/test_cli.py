"""``python -m lib``: the commands run and write CSV/Parquet with provenance; every user error is one line, exit 2."""

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from lib import cli
from lib.experiments import simulations

LINE = ("landscape", "--h", "64", "--p", "0.1", "--steps", "3", "--samples", "256", "--batches", "4")


def run(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("BOOK_WORKERS", "DASK_SCHEDULER_ADDRESS")}
    return subprocess.run([sys.executable, "-m", "lib", *args], capture_output=True, text=True, timeout=300,
                          env={**environ, **(env or {})}, cwd=cwd)


def provenance(path) -> dict:
    lines = [line[2:].rstrip("\n") for line in open(path) if line.startswith("# ")]
    return dict(line.split("=", 1) for line in lines)


def test_landscape_writes_csv_with_provenance(tmp_path):
    out = tmp_path / "line.csv"
    result = run(*LINE, "--out", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out, comment="#")
    assert frame["t"].tolist() == [-1.5, 0.0, 1.5]
    assert {"loss", "grad_norm", "noise_floor", "active_fraction"} <= set(frame.columns)
    header = provenance(out)
    assert header["command"] == "landscape" and header["seed"] == "2018" and header["backend"] == "serial"
    assert header["code_version"].startswith("0.1.0+")
    assert header["h"] == "64" and header["steps"] == "3" and header["prefactor"] == "0.5"
    assert [name for name in os.listdir(tmp_path)] == ["line.csv"]  # no temporary file left


def test_table1_writes_parquet_with_metadata_and_scale_from_environment(tmp_path):
    out = tmp_path / "table1.parquet"
    result = run("table1", "--points", "1", "--out", str(out), env={"BOOK_SCALE": "smoke"})
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    frame = table.to_pandas()
    assert len(frame) == 12  # smoke: 3 values of h times the 4 values of p
    assert {"h", "p", "corrected", "standard_error", "noise_floor", "paper", "ratio"} <= set(frame.columns)
    meta = json.loads(table.schema.metadata[b"lib.provenance"])
    assert meta["scale"] == "smoke" and meta["points"] == 1 and meta["backend"] == "serial"
    assert "Table 1" in result.stderr  # the progress bar


def test_fixed_coherence_writes_the_chapter_table(tmp_path):
    out = tmp_path / "fixed.csv"
    result = run("fixed-coherence", "--draws", "1", "--out", str(out), env={"BOOK_SCALE": "smoke"})
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out, comment="#")
    assert len(frame) == 8  # smoke: 2 values of h times the 4 values of p, one dictionary each
    assert set(frame["family"]) == {"kerdock"} and sorted(set(frame["h"])) == [256, 1024]
    header = provenance(out)
    assert header["command"] == "fixed-coherence" and header["family"] == "kerdock" and header["draws"] == "1"


def test_training_writes_one_row_per_run_with_provenance(tmp_path):
    out = tmp_path / "training.parquet"
    result = run("training", "--seeds", "1", "--seed", "6", "--out", str(out), env={"BOOK_SCALE": "smoke"})
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    frame = table.to_pandas()
    assert len(frame) == 2 * (5 * 3 + 4)  # smoke: 2 tiers; 5 near starts x 3 methods, the random start x 4
    assert {"tier", "method", "init", "seed", "mcc", "frac99", "max_dist", "dead", "cpu_seconds"} <= set(frame.columns)
    assert frame["mcc"].between(0, 1).all() and set(frame["seed"]) == {0}
    meta = json.loads(table.schema.metadata[b"lib.provenance"])
    assert meta["command"] == "training" and meta["scale"] == "smoke" and meta["seeds"] == 1 and meta["seed"] == 6
    assert meta["backend"] == "serial" and meta["steps_random"] == 400 and meta["code_version"].startswith("0.1.0+")
    assert "compare 128×256, k=3" in result.stderr  # one progress bar per tier


def test_sample_complexity_writes_one_row_per_method_h_and_seed(tmp_path):
    out = tmp_path / "sc.csv"
    result = run("sample-complexity", "--h", "16", "24", "--seeds", "2", "--seed", "3", "--methods", "ae", "topk", "ae",
                 "--max-factor", "2", "--out", str(out), env={"BOOK_SCALE": "smoke"})
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out, comment="#")
    assert list(frame.columns) == ["method", "h", "seed", "N_star", "cpu_seconds", "attempts"]
    first = json.loads(frame["attempts"][0])  # every N tried, in order
    assert [set(tried) for tried in first] == [{"N", "fraction", "median_cos"}] * len(first)
    assert first[0]["N"] == 8 and all(0 <= tried["fraction"] <= 1 for tried in first)  # N starts at h/2
    assert len(frame) == 2 * 2 * 2  # methods (the repeated one once) x h x seeds
    assert set(frame["method"]) == {"tied ReLU AE", "TopK + revival"} and set(frame["seed"]) == {3, 4}
    found = frame["N_star"].dropna()
    assert ((found >= 0.5 * frame.loc[found.index, "h"]) & (found <= 2 * frame.loc[found.index, "h"])).all()
    header = provenance(out)
    assert header["command"] == "sample-complexity" and header["scale"] == "smoke" and header["h"] == "16 24"
    assert header["max_factor"] == "2.0" and header["seed"] == "3" and header["methods"] == "tied ReLU AE; TopK + revival"


def test_help():
    result = run("--help")
    assert result.returncode == 0 and all(name in result.stdout for name in ("table1", "landscape", "training",
                                                                             "sample-complexity"))
    for command in ("table1", "training", "sample-complexity"):
        result = run(command, "--help")
        assert all(flag in result.stdout for flag in ("--workers", "--scheduler", "--checkpoint", "BOOK_SCALE"))


@pytest.mark.parametrize("args, words", [
    ((), "required"),
    (("tabel1",), "invalid choice"),
    (("table1", "--scale", "huge", "--out", "x.csv"), "--scale"),
    (("table1", "--out", "/no/such/folder/x.csv"), "does not exist"),
    (("table1", "--out", ""), "--out: must name a file"),
    (("table1", "--out", "."), "is a folder"),
    (("table1", "--out", "/dev/full"), "not a regular file"),
    (("table1", "--out", "x.txt"), ".csv or .parquet"),
    (("table1", "--points", "0", "--scale", "smoke", "--out", "x.csv"), "--points: must be >= 1"),
    (("table1", "--seed", "-1", "--out", "x.csv"), "--seed: must be >= 0"),
    (("table1", "--workers", "0", "--out", "x.csv"), "--workers: must be >= 1"),
    (("table1", "--workers", "2", "--scheduler", "tcp://h:1", "--out", "x.csv"), "not allowed with"),
    (("table1", "--scheduler", "", "--out", "x.csv"), "--scheduler"),
    (("table1", "--checkpoint", "/dev/null", "--out", "x.csv"), "not a folder"),
    (("table1", "--scale", "smoke", "--points", "100000", "--out", "x.csv"), "needs about"),
    (("landscape", "--p", "0.1", "--out", "x.csv"), "--h"),
    (("landscape", "--h", "x", "--p", "0.1", "--out", "x.csv"), "--h: must be an integer"),
    (("landscape", "--h", "1", "--p", "0.1", "--out", "x.csv"), "--h: must be >= 2"),
    (("landscape", "--h", "64", "--p", "1.5", "--out", "x.csv"), "--p must be < 1"),
    (("landscape", "--h", "64", "--p", "0.1", "--steps", "1", "--out", "x.csv"), "--steps"),
    (("landscape", "--h", "64", "--p", "0.1", "--steps", "1e12", "--out", "x.csv"), "--steps: must be an integer"),
    (("landscape", "--h", "64", "--p", "0.1", "--t-max", "inf", "--out", "x.csv"), "--t-max: must be finite"),
    (("landscape", "--h", "64", "--p", "0.1", "--t-max", "nan", "--out", "x.csv"), "--t-max: must be finite"),
    (("landscape", "--h", "64", "--p", "0.1", "--samples", "1000000000000", "--out", "x.csv"), "need about"),
    (("landscape", "--h", "10000000", "--p", "0.1", "--out", "x.csv"), "need about"),
    (("landscape", "--h", "64", "--p", "0.1", "--low", "3", "--out", "x.csv"), "high must be > low"),
    (("landscape", "--h", "64", "--p", "0.1", "--delta", "-1", "--out", "x.csv"), "delta"),
    (("training", "--seeds", "0", "--out", "x.csv"), "--seeds: must be >= 1"),
    (("training", "--seeds", "two", "--out", "x.csv"), "--seeds: must be an integer"),
    (("training", "--scale", "huge", "--out", "x.csv"), "--scale"),
    (("training", "--out", "x.txt"), ".csv or .parquet"),
    (("training", "--workers", "0", "--out", "x.csv"), "--workers: must be >= 1"),
    (("training", "--delta", "0.1", "--out", "x.csv"), "unrecognized arguments"),
    (("sample-complexity", "--h", "2", "--out", "x.csv"), "--h: must be >= 4"),
    (("sample-complexity", "--h", "--out", "x.csv"), "--h: expected at least one argument"),
    (("sample-complexity", "--methods", "ksvd", "--out", "x.csv"), "--methods: invalid choice"),
    (("sample-complexity", "--seeds", "0", "--out", "x.csv"), "--seeds: must be >= 1"),
    (("sample-complexity", "--max-factor", "0.5", "--out", "x.csv"), "--max-factor: must be >= 1"),
    (("sample-complexity", "--max-factor", "nan", "--out", "x.csv"), "--max-factor: must be finite"),
    (("sample-complexity", "--h", "100000000", "--max-factor", "1000", "--out", "x.csv"), "--h, --max-factor"),
])
def test_bad_arguments_give_one_line(tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    assert cli.main(list(args)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m lib: error:"), lines
    assert words in lines[0]
    assert os.listdir(tmp_path) == []  # nothing written, not even a temporary file


def test_a_bad_argument_is_one_line_from_the_shell(tmp_path):
    result = run("landscape", "--h", "64", "--p", "0.1", "--seed", "-1", "--out", "x.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "python -m lib: error: argument --seed: must be >= 0, got -1\n"


def test_bad_environment_scale_names_the_variable(tmp_path):
    result = run("table1", "--out", "x.csv", env={"BOOK_SCALE": "huge"}, cwd=tmp_path)
    assert result.returncode == 2 and "BOOK_SCALE" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_read_only_folder_is_refused_before_computing(tmp_path, monkeypatch):
    called = []
    monkeypatch.setattr(simulations, "landscape", lambda *a, **k: called.append(1))
    monkeypatch.setattr(cli.tempfile, "NamedTemporaryFile", _no_space)
    assert cli.main([*LINE, "--out", str(tmp_path / "x.csv")]) == 2
    assert called == []


def test_unreachable_scheduler_is_one_line(tmp_path):
    result = run("table1", "--scale", "smoke", "--scheduler", "tcp://127.0.0.1:9", "--out", "x.csv", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "python -m lib: error: cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 10 s (OSError)"]


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_failed_write_keeps_the_existing_file(tmp_path, monkeypatch, capsys):
    out = tmp_path / "line.csv"
    out.write_text("old results\n")

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    assert cli.main([*LINE, "--out", str(out)]) == 2
    assert out.read_text() == "old results\n"
    assert os.listdir(tmp_path) == ["line.csv"]
    # after the progress bar: tqdm clears its line, and moves the cursor up when a bar another test left open holds
    # position 0 (which of them exists depends on the test order), so compare the text the terminal shows last
    shown = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", capsys.readouterr().err).split("\r")[-1].strip()
    assert shown == "python -m lib: error: [Errno 28] No space left on device"


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulations, "landscape", interrupted)
    assert cli.main([*LINE, "--out", str(tmp_path / "x.csv")]) == 130
    assert capsys.readouterr().err == "python -m lib: interrupted\n"
    assert os.listdir(tmp_path) == []


def test_two_workers_and_a_checkpoint_give_the_serial_numbers(tmp_path):
    serial, parallel = tmp_path / "serial.csv", tmp_path / "parallel.csv"
    assert run(*LINE, "--out", str(serial)).returncode == 0
    result = run(*LINE, "--workers", "2", "--checkpoint", str(tmp_path / "ckpt"), "--out", str(parallel))
    assert result.returncode == 0, result.stderr
    pd.testing.assert_frame_equal(pd.read_csv(serial, comment="#"), pd.read_csv(parallel, comment="#"), check_exact=True)
    assert provenance(parallel)["backend"] == "local:2"
    (folder,) = (tmp_path / "ckpt").iterdir()
    assert len(list(folder.glob("*.pkl"))) == 3  # one finished task per t


def test_ctrl_c_on_two_workers_is_one_line(tmp_path):
    checkpoint = tmp_path / "ckpt"
    environ = {k: v for k, v in os.environ.items() if k not in ("BOOK_WORKERS", "DASK_SCHEDULER_ADDRESS")}
    # 400 tasks of 65,536 samples: the run lasts far longer than the wait for its first finished task
    process = subprocess.Popen(
        [sys.executable, "-m", "lib", "landscape", "--h", "1024", "--p", "0.1", "--steps", "400", "--samples", "65536",
         "--workers", "2", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "x.csv")],
        stderr=subprocess.PIPE, text=True, env=environ,
        # a test runner started in the background of a non-interactive shell ignores SIGINT; the child would
        # inherit that (Python then installs no KeyboardInterrupt handler, the run goes on and exits 0):
        # give it the default disposition, as a reader's terminal does
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 500
    while not list(checkpoint.glob("*/*.pkl")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)  # interrupt once tasks are finishing (the cluster is up), as a reader would
    assert list(checkpoint.glob("*/*.pkl")), "no task finished"
    process.send_signal(signal.SIGINT)
    err = process.communicate(timeout=180)[1]
    assert process.returncode == 130, err
    lines = [line for line in re.split("[\r\n]", err) if line.strip() and not line.startswith("landscape")]
    assert lines == ["python -m lib: interrupted"]
    assert not (tmp_path / "x.csv").exists()
