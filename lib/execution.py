r"""One execution layer for the book's sweeps: serial in-process by default, Dask when asked.

Every expensive experiment of the book is a sweep of independent tasks (Table 1's cells, the
sensitivity variants, training seeds × methods ...).  Each is written as a pure function
``func(rng, **task)`` and a list of task dicts, and run by :func:`map_tasks`::

    from lib import execution
    results = execution.map_tasks(func, tasks, seed=2018, name="table1")

Backends
--------
serial (default)
    In this process, one task after the other; :mod:`dask` is not even imported.
``workers=N`` or ``BOOK_WORKERS=N``
    A :class:`distributed.LocalCluster` of ``N`` worker processes with one thread each, BLAS
    limited to one thread per worker (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
    ``MKL_NUM_THREADS``) and a memory limit per worker (default: the machine's memory / ``N``).
    glibc's allocator keeps its defaults there: Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` (its
    ``distributed.nanny.pre-spawn-environ``) is removed, because setting it switches off glibc's
    adaptive mmap threshold, and the large numpy temporaries of these sweeps were then mapped and
    unmapped at every step: the training comparison took 2.3 times the CPU on a worker
    (``benchmarks/RESULTS.md``).
``scheduler=ADDRESS`` or ``DASK_SCHEDULER_ADDRESS``
    An existing cluster (``dask scheduler`` + ``dask worker``, dask-jobqueue, Kubernetes ...).

Choose one with :func:`configure` (for the rest of the process) or the context manager
:func:`backend` (for a block).  The Dask client is started on first use and reused by every
sweep until the backend changes or the process ends.

Guarantees
----------
Identical numbers on every backend
    Task ``t`` draws from ``numpy.random.default_rng(SeedSequence(seed, spawn_key=key(t)))`` where
    ``key(t)`` is a hash of the task's canonical JSON (:func:`task_generator`): its stream depends
    on its identity only, not on its position, on the other tasks or on the worker that runs it.
Nothing lost
    With ``checkpoint=FOLDER`` every finished result is pickled (atomically) under a key of the
    sweep's name, the task, the seed and the code version (``lib.__version__`` and a hash of the
    source of ``func``'s module); a rerun loads the finished tasks and computes only the rest.
    On Dask, a task that raises is retried (``retries``) and a task whose worker dies is
    rescheduled on another worker by the scheduler.
Pre-flight
    ``memory_bytes`` (a number or a function of the task) is compared with the memory of one
    worker before anything runs; a task that cannot fit is refused with both numbers.
Progress
    One tqdm bar (text, on stderr) over the tasks of the sweep, whichever backend runs them;
    results come back in task order.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import inspect
import json
import math
import numbers
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

import lib
from lib import _validate as check

__all__ = [
    "Backend",
    "configure",
    "backend",
    "current",
    "shutdown",
    "task_generator",
    "generator_state",
    "resume",
    "map_tasks",
    "one_blas_thread",
]

WORKERS_ENV = "BOOK_WORKERS"
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
BLAS_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
DROPPED_ENV = ("MALLOC_TRIM_THRESHOLD_",)  # Dask's worker default, which costs these sweeps 2.3x (module docstring)
MAX_WORKERS = 1024  # worker processes of one local cluster (a larger cluster is a scheduler address)


@dataclass(frozen=True)
class Backend:
    """Where the tasks of a sweep run.

    Attributes
    ----------
    workers : int or None
        Worker processes of a local Dask cluster (``None``: no local cluster).
    scheduler : str or None
        Address of an existing Dask scheduler, e.g. ``"tcp://10.0.0.1:8786"`` (``None``: none).
    memory_limit : int or None
        Bytes per local worker, at most the machine's memory (default: the machine's memory
        divided by ``workers``).
    checkpoint : str or None
        Default checkpoint folder of :func:`map_tasks`.
    retries : int
        Times Dask reruns a task that raised.
    timeout : float
        Seconds to wait for a scheduler before giving up.

    With neither ``workers`` nor ``scheduler`` the tasks run serially in this process.
    """

    workers: int | None = None
    scheduler: str | None = None
    memory_limit: int | None = None
    checkpoint: str | None = None
    retries: int = 2
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.workers is not None:
            check.integer(self.workers, "workers", minimum=1, maximum=MAX_WORKERS)
        if self.scheduler is not None:
            if not isinstance(self.scheduler, str):
                raise TypeError(f"scheduler must be an address string, got {type(self.scheduler).__name__}")
            if not self.scheduler.strip():
                raise ValueError("scheduler must be a non-empty address such as 'tcp://host:8786'")
        if self.workers is not None and self.scheduler is not None:
            raise ValueError("give workers (a local cluster) or scheduler (an existing one), not both")
        if self.memory_limit is not None:
            check.integer(self.memory_limit, "memory_limit", minimum=1, maximum=_machine_memory())
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint must be a folder path, got {type(self.checkpoint).__name__}")
        check.integer(self.retries, "retries", minimum=0, maximum=100)
        check.real(self.timeout, "timeout", minimum=0.0, strict_min=True)

    @property
    def serial(self) -> bool:
        """True when the tasks run in this process."""
        return self.workers is None and self.scheduler is None

    def describe(self) -> str:
        """``"serial"``, ``"local:N"`` or ``"scheduler:ADDRESS"`` (the provenance of a result)."""
        if self.scheduler is not None:
            return f"scheduler:{self.scheduler}"
        return "serial" if self.workers is None else f"local:{self.workers}"

    def worker_memory(self) -> int:
        """Memory limit in bytes of one local worker (the serial path: this machine's memory)."""
        if self.memory_limit is not None:
            return self.memory_limit
        return _machine_memory() // (self.workers or 1)


def one_blas_thread(function: Callable) -> Callable:
    """Decorate a task function so that it runs with BLAS limited to one thread.

    The sweeps' tasks run one per core (serially or on Dask workers); a task's matrix products on
    several BLAS threads would only oversubscribe the cores, and on small matrices cost more than
    they save.
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return wrapper


def _machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _from_environment() -> Backend:
    workers = os.environ.get(WORKERS_ENV, "").strip()
    scheduler = os.environ.get(SCHEDULER_ENV, "").strip() or None
    if workers:
        try:
            count = int(workers)
        except ValueError:
            raise ValueError(f"{WORKERS_ENV} must be a positive integer, got {workers!r}") from None
        return Backend(workers=count, scheduler=None)
    return Backend(scheduler=scheduler)


_configured: Backend | None = None
_session: tuple[Backend, Any] | None = None  # the backend whose client is open, and that client


def current() -> Backend:
    """The backend in force: the last :func:`configure` or :func:`backend`, else the environment.

    ``BOOK_WORKERS=N`` gives a local cluster of ``N`` workers; otherwise ``DASK_SCHEDULER_ADDRESS``
    an existing cluster; otherwise serial.
    """
    return _configured if _configured is not None else _from_environment()


def configure(workers: int | None = None, scheduler: str | None = None, **options: Any) -> Backend:
    """Choose the backend of every later sweep; with no arguments, follow the environment (default serial).

    A Dask client is started by the first sweep that needs it and closed when a sweep needs another
    backend, by :func:`shutdown`, or at exit.

    Parameters
    ----------
    workers : int, optional
        Worker processes of a local Dask cluster.
    scheduler : str, optional
        Address of an existing Dask scheduler.
    **options
        ``memory_limit``, ``checkpoint``, ``retries``, ``timeout`` (see :class:`Backend`).

    Returns
    -------
    Backend
    """
    global _configured
    if workers is None and scheduler is None:
        _configured = replace(_from_environment(), **options) if options else None
    else:
        _configured = Backend(workers=workers, scheduler=scheduler, **options)
    return current()


def backend(workers: int | None = None, scheduler: str | None = None,
            **options: Any) -> contextlib.AbstractContextManager[Backend]:
    """Run the sweeps of a ``with`` block on a backend (see :func:`configure`), then restore the previous one.

    The arguments are checked when this is called; a Dask client started inside the block is
    closed when the block ends.
    """
    Backend(workers=workers, scheduler=scheduler, **options)  # bad arguments fail here, not at ``with``
    return _scoped(workers, scheduler, options)


@contextlib.contextmanager
def _scoped(workers: int | None, scheduler: str | None, options: dict) -> Iterator[Backend]:
    global _configured
    previous, before = _configured, _session
    chosen = configure(workers, scheduler, **options)
    try:
        yield chosen
    finally:
        if _session is not None and _session is not before:
            shutdown()
        _configured = previous


def shutdown() -> None:
    """Close the Dask client (and the local cluster) that the sweeps have been using, if any."""
    global _session
    if _session is None:
        return
    _, client = _session
    _session = None
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()


atexit.register(shutdown)


def _client(chosen: Backend):
    """The Dask client of ``chosen``, started on first use (a ConnectionError names an unreachable address)."""
    global _session
    if _session is not None and _session[0] == chosen:
        return _session[1]
    shutdown()
    import dask
    import distributed

    if chosen.scheduler is not None:
        try:
            client = distributed.Client(chosen.scheduler, timeout=chosen.timeout, set_as_default=False)
        except Exception as error:  # OSError on a timeout, ValueError/TypeError on a malformed address
            raise ConnectionError(f"cannot reach the Dask scheduler at {chosen.scheduler!r} within "
                                  f"{chosen.timeout:g} s ({type(error).__name__})") from None
    else:
        environ = {name: value for name, value in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
                   if name not in DROPPED_ENV}
        environ.update(BLAS_ENV)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            cluster = distributed.LocalCluster(
                n_workers=chosen.workers, threads_per_worker=1, processes=True, memory_limit=chosen.worker_memory(),
                dashboard_address=":0", env=dict(BLAS_ENV))
        client = distributed.Client(cluster, set_as_default=False)
    _session = (chosen, client)
    return client


def _worker_memory(chosen: Backend) -> int:
    """The smallest memory limit of a worker of ``chosen`` (connects to a remote scheduler)."""
    if chosen.scheduler is None:
        return chosen.worker_memory()
    limits = [w.get("memory_limit") or 0 for w in _client(chosen).scheduler_info()["workers"].values()]
    limits = [limit for limit in limits if limit > 0]
    return min(limits) if limits else _machine_memory()


# --- task identity -------------------------------------------------------------------------

def _canonical(task: object, name: str = "tasks") -> str:
    """The canonical JSON of a task dict (sorted keys, no NaN), or a TypeError naming ``tasks``."""
    if not isinstance(task, Mapping) or not all(isinstance(key, str) for key in task):
        raise TypeError(f"{name} must hold dicts with string keys (the task parameters), got {type(task).__name__}")
    try:
        return json.dumps(_plain(task), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must hold JSON-able parameters (numbers, strings, lists, dicts): {error}") from None


def _plain(value: object) -> object:
    """numpy scalars and tuples as their JSON equivalents (so ``np.int64(3)`` and ``3`` are one task)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative integer, got {type(seed).__name__}")
    return check.integer(int(seed), "seed", minimum=0)


def task_generator(seed: int, task: Mapping[str, Any]) -> np.random.Generator:
    r"""The random stream of ``task``: ``default_rng(SeedSequence(seed, spawn_key=key))``.

    ``key`` is the SHA-256 of the task's canonical JSON, cut into eight 32-bit words, so the
    stream is a function of (``seed``, the task's parameters) only.  Sweeps use it directly for
    draws shared by several tasks (e.g. one dictionary per :math:`h` shared by every :math:`p`).

    Parameters
    ----------
    seed : int
        Non-negative seed of the sweep.
    task : dict
        JSON-able parameters (string keys).
    """
    digest = bytes.fromhex(_digest(_canonical(task, "task")))
    key = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 32, 4))
    return np.random.default_rng(np.random.SeedSequence(_seed(seed), spawn_key=key))


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """The state of ``rng``'s bit generator as JSON-able task parameters (:func:`resume` rebuilds ``rng`` from it).

    For sweeps whose tasks must continue a caller's stream exactly where it stands (so that their
    numbers are those of a serial loop over the same generator): the state is part of the task's
    identity, so the task's stream still depends on the task alone.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator whose current state to record; it is not advanced.
    """
    check.generator(rng)
    return _plain_state(rng.bit_generator.state)


def _plain_state(value: object) -> object:
    if isinstance(value, Mapping):
        return {key: _plain_state(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def resume(state: Mapping[str, Any]) -> np.random.Generator:
    """A new generator in the state recorded by :func:`generator_state`: it draws what the recorded one would have drawn next.

    Parameters
    ----------
    state : dict
        A :func:`generator_state` (``state["bit_generator"]`` names a :mod:`numpy.random` bit generator).
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict made by generator_state, got {type(state).__name__}")
    kind = getattr(np.random, str(state.get("bit_generator", "")), None)
    if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
        raise ValueError(f"state must name a numpy bit generator under 'bit_generator', got {state.get('bit_generator')!r}")
    bit_generator = kind()
    try:
        bit_generator.state = dict(state)
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise ValueError(f"state is not a state of {kind.__name__}: {error}") from None
    return np.random.Generator(bit_generator)


def _code_version(func: Callable) -> str:
    """``lib.__version__`` and a hash of the source of ``func``'s module (or of ``func`` alone)."""
    target = getattr(func, "func", func)  # functools.partial
    module = inspect.getmodule(target)
    try:
        source = inspect.getsource(module) if module is not None else inspect.getsource(target)
    except (OSError, TypeError):
        source = getattr(target, "__qualname__", repr(target))
    return f"{lib.__version__}+{_digest(source)[:12]}"


def _qualified_name(func: Callable) -> str:
    target = getattr(func, "func", func)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(target).__name__)}"


def _run(func: Callable, seed: int, task: dict) -> Any:
    """One task (on whichever process runs it)."""
    return func(task_generator(seed, task), **task)


# --- checkpoints ----------------------------------------------------------------------------

def _load(path: Path) -> tuple[bool, Any]:
    try:
        with open(path, "rb") as handle:
            return True, pickle.load(handle)
    except FileNotFoundError:
        return False, None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):  # a foreign or damaged file
        return False, None


def _store(path: Path, result: Any) -> None:
    """Pickle ``result`` to ``path`` atomically (a temporary file in the same folder, then os.replace)."""
    handle = tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


# --- the sweep ------------------------------------------------------------------------------

def _memory_check(memory_bytes: object, tasks: Sequence[dict], limit: int, chosen: Backend) -> None:
    if memory_bytes is None:
        return
    for task in tasks:
        need = memory_bytes(task) if callable(memory_bytes) else memory_bytes
        need = check.real(need, "memory_bytes", minimum=0.0)
        if need > limit:
            raise ValueError(
                f"memory_bytes: a task needs about {_size(need)} ({need:.3g} bytes) but a worker of the "
                f"{chosen.describe()} backend has {_size(limit)} ({limit:.3g} bytes); task {_canonical(task)}")


def _size(nbytes: float) -> str:
    if nbytes <= 0:
        return "0 B"
    unit = min(int(math.log(nbytes, 1024)), 4)
    return f"{nbytes / 1024**unit:.3g} {('B', 'KiB', 'MiB', 'GiB', 'TiB')[unit]}"


def map_tasks(func: Callable[..., Any], tasks: Sequence[Mapping[str, Any]], *, seed: int, name: str,
              checkpoint: str | os.PathLike | None = None,
              memory_bytes: float | Callable[[dict], float] | None = None, progress: bool = True) -> list[Any]:
    r"""Run ``func(rng, **task)`` for every task on the current backend; results in task order.

    Parameters
    ----------
    func : callable
        A pure, picklable function (defined at module level) ``func(rng, **task)``; ``rng`` is the
        task's :func:`task_generator`.
    tasks : sequence of dict
        The tasks' JSON-able parameters, which are also their identity; no two may be equal.
    seed : int
        Non-negative seed of the sweep.
    name : str
        Name of the sweep (progress bar, checkpoint keys, Dask task keys).
    checkpoint : path, optional
        Folder of finished results (default: the backend's ``checkpoint``; ``None``: none).
    memory_bytes : float or callable, optional
        Estimated peak memory of one task (or a function of the task); a task above one worker's
        memory limit is refused before anything runs.
    progress : bool
        Show the progress bar (default ``True``).

    Returns
    -------
    list
        ``func``'s results, in the order of ``tasks``.

    Raises
    ------
    ValueError
        A task too large for a worker (both numbers in the message), duplicate tasks, bad arguments.
    ConnectionError
        The scheduler of the backend cannot be reached (the message names its address).
    """
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    if isinstance(tasks, (str, bytes, Mapping)) or not isinstance(tasks, Sequence):
        raise TypeError(f"tasks must be a sequence of dicts, got {type(tasks).__name__}")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    seed = _seed(seed)
    check.flag(progress, "progress")
    tasks = [dict(_plain(task)) for task in tasks] if all(isinstance(t, Mapping) for t in tasks) else tasks
    identities = [_canonical(task) for task in tasks]
    if len(set(identities)) != len(identities):
        raise ValueError("tasks must be distinct (equal tasks would draw the same random stream)")
    chosen = current()
    if memory_bytes is not None:
        _memory_check(memory_bytes, tasks, _worker_memory(chosen), chosen)

    version = _code_version(func)
    prefix = _qualified_name(func)
    keys = [_digest(json.dumps([name, prefix, version, seed, identity]))[:32] for identity in identities]
    folder = checkpoint if checkpoint is not None else chosen.checkpoint
    paths: list[Path | None] = [None] * len(tasks)
    if folder is not None:
        root = Path(folder) / name
        root.mkdir(parents=True, exist_ok=True)
        paths = [root / f"{key}.pkl" for key in keys]

    results: list[Any] = [None] * len(tasks)
    pending = []
    for index, path in enumerate(paths):
        found, value = _load(path) if path is not None else (False, None)
        if found:
            results[index] = value
        else:
            pending.append(index)

    with tqdm(total=len(tasks), initial=len(tasks) - len(pending), desc=name, file=sys.stderr, leave=False,
              disable=not progress) as bar:
        def finish(index: int, value: Any) -> None:
            results[index] = value
            if paths[index] is not None:
                _store(paths[index], value)
            bar.update()

        if chosen.serial:
            for index in pending:
                finish(index, _run(func, seed, tasks[index]))
        else:
            _run_on_dask(chosen, func, seed, tasks, pending, keys, name, finish)
    return results


def _run_on_dask(chosen: Backend, func: Callable, seed: int, tasks: list[dict], pending: list[int],
                 keys: list[str], name: str, finish: Callable[[int, Any], None]) -> None:
    """Submit the pending tasks (explicit keys, retries) and hand each result to ``finish`` as it completes."""
    import distributed

    client = _client(chosen)
    futures = {client.submit(_run, func, seed, tasks[index], key=f"{name}-{keys[index]}", retries=chosen.retries):
               index for index in pending}
    try:
        for future in distributed.as_completed(futures, loop=client.loop):
            finish(futures[future], future.result())
            future.release()
    except BaseException:
        client.cancel(list(futures))
        raise
