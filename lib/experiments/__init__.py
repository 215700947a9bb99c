"""The experiments behind the book's figures and tables, one submodule per chapter.

Each function takes its sizes and a ``numpy.random.Generator`` and returns plain arrays or small
dataclasses; nothing here plots (see :mod:`lib.plots`).  Long loops show a tqdm progress bar.
"""

__all__: list[str] = []
