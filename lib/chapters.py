"""The book's chapter registry: the one list from which everything that enumerates chapters is derived.

``make book`` and ``make test`` execute :func:`executed` (``python -m lib.chapters execute``), the
claims page requires a claim from every chapter with :attr:`Chapter.claims` prefixes, the intro's
map is generated from :attr:`Chapter.what` and :attr:`Chapter.paper` (the ``chapter-map`` directive
of ``_ext/book_html.py``), ``_toc.yml`` must list :data:`CHAPTERS` in order, and the completeness
tests (``tests/test_notebooks.py``) check each entry against its notebook, its sizes in
:mod:`lib.scale` and its module of :mod:`lib.experiments`.

To add a chapter: write the notebook, add one :class:`Chapter` here (and the line ``- file: ...`` in
``_toc.yml``, which a test compares with this list), its sizes in :data:`lib.scale.SIZES` and its module
``lib/experiments/<sizes>.py``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Chapter", "CHAPTERS", "LEDGER", "by_doc", "executed", "map_rows"]


@dataclass(frozen=True)
class Chapter:
    """One page of the book.

    Attributes
    ----------
    doc : str
        Document name, ``"book/02_support_recovery"``: the notebook or Markdown file without suffix.
    what : str
        What the chapter reproduces (MyST Markdown), for the intro's map; empty for pages left out of it.
    paper : str
        The sections of the paper it covers, for the map's "paper" column.
    sizes : str
        Its key in :data:`lib.scale.SIZES` (also the name of its module of :mod:`lib.experiments`), or
        ``""`` for a chapter without experiments.
    claims : tuple of str
        Prefixes of the claim ids the chapter must record (the claims page fails without them).
    cost : int
        Relative execution time at paper scale: :func:`executed` runs the chapters longest first,
        so that two processes finish together; 0 for a page that is not executed.
    """

    doc: str
    what: str = ""
    paper: str = ""
    sizes: str = ""
    claims: tuple[str, ...] = ()
    cost: int = 0

    @property
    def name(self) -> str:
        """The file name without folder and suffix: ``"02_support_recovery"``."""
        return self.doc.rsplit("/", 1)[-1]

    @property
    def title(self) -> str:
        """The page's title, as its first ``# `` heading writes it (``"Model and assumptions"``).

        Read from the notebook or Markdown file, so that a page that links a chapter by its title (the
        claims page) shows the title the chapter itself has.  ``ValueError`` for a page without one.
        """
        return _title(self.doc)


LEDGER = "book/07_claims"  # executed after every other chapter: it reads what they recorded

CHAPTERS: tuple[Chapter, ...] = (
    Chapter("book/00_intro"),
    Chapter("book/01_model", sizes="model", claims=("model-",), cost=1, paper="Sec. 2, remark of Sec. 3.2",
            what="the generative model and the autoencoder; coherence of Gaussian dictionaries; what $h^p$ means at "
                 "the paper's sizes; the square orthogonal case"),
    Chapter("book/02_support_recovery", sizes="support", claims=("thm3.1-",), cost=2, paper="Thm. 3.1, Sec. 3.1, 4",
            what="Theorem 3.1 and its proof, each step tested: the inner-product bounds, the on-support margin, the "
                 "Hoeffding bound on false positives, exact recovery on a Hadamard dictionary, and what the theorem's "
                 "bias does at the paper's sizes"),
    Chapter("book/03_criticality", sizes="criticality", claims=("lem5.1-", "lem5.2-", "thm3.2-"), cost=3,
            paper="Thm. 3.2, Lem. 5.1, 5.2, Sec. 3.2, 5, App. A, B",
            what="Theorem 3.2 with Lemmas 5.1 and 5.2: the exact gradient, the proxy gradient and its closed-form "
                 "expectation beside TensorFlow autodiff; the gap between them against imperfect recovery; "
                 "$\\alpha_i$, $\\beta_i$, $e_i$ against $h$; the gradient norm against $h$ with fitted slopes; why "
                 "$A^*$ itself is only an *asymptotic* critical point"),
    Chapter("book/04_simulations", sizes="simulations", claims=("table1-", "fig1-6-"), cost=5,
            paper="Sec. 6, Table 1, Figs. 1–6",
            what="Table 1 at the paper's sizes beside the paper's numbers, with standard errors, the noise floor and a "
                 "sensitivity panel for every setting the paper did not state; Figures 1–6 (the loss and gradient "
                 "along random directions, and the flat region) with the fraction of active units; a fast exact "
                 "gradient estimator"),
    Chapter("book/04b_fixed_coherence", sizes="coherence", claims=("coh-",), cost=7, paper="Thm. 3.2, Sec. 6, Conclusion",
            what="the experiment the Conclusion names: Table 1 for growing $h$ at a fixed incoherence $\\mu = 1$ (real "
                 "mutually unbiased bases), with log-log slopes and their confidence intervals, a support size smooth "
                 "in $h$, the theorem's whole reconstructed bound, and Theorem 3.1 at the same $\\mu$"),
    Chapter("book/05_mnist", sizes="mnist", claims=("mnist-",), cost=6, paper="Sec. 1.1",
            what="the motivating experiment: tied ReLU autoencoders with one and two hidden layers trained by RMSProp "
                 "on MNIST digits, against the mean image and PCA; the learned atoms and how sparse the codes really "
                 "are"),
    Chapter("book/06_training", sizes="training", claims=("train-",), cost=9, paper="Conclusion (beyond the paper)",
            what="the question the paper leaves open: does gradient descent started away from $A^*$ find the "
                 "dictionary? Training from near and random starts, the effect of the bias and of the number of "
                 "samples, against scikit-learn, the Arora–Ge–Ma–Moitra neural update and a TopK sparse autoencoder "
                 "on one metric"),
    Chapter("book/06b_hessian", sizes="hessian", claims=("hess-",), cost=4, paper="Sec. 6, Conclusion (beyond the paper)",
            what="whether the critical point is a minimum: the Hessian of the expected loss (with the boundary term "
                 "of the ReLU's kinks), extreme eigenvalues by Lanczos with their sampling noise, each verdict confirmed "
                 "by the loss's own second differences, at $A^*$, at the stationary point near it, along the random "
                 "line and at random-start end points; the softest directions; scaling with $h$, $k$ and $\\epsilon$"),
    Chapter("book/06c_random_starts", sizes="random_starts", claims=("rs-",), cost=8, paper="Conclusion (beyond the paper)",
            what="every atom from a random start: the protocols of sparse-autoencoder practice (resampling and "
                 "splitting silent units, a polish at a raised bias) ablated one by one, and the smallest number of "
                 "samples $N^*$ at which each method recovers 99 % of the atoms as $h$ grows"),
    Chapter(LEDGER, cost=0),
    Chapter("book/08_reproduce"),
    Chapter("book/08b_running_at_scale"),
    Chapter("book/90_reconstruction"),
    Chapter("book/99_references"),
)


_ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def _title(doc: str) -> str:
    for suffix in (".ipynb", ".md"):
        path = _ROOT / f"{doc}{suffix}"
        if path.exists():
            text = path.read_text(encoding="utf-8")
            lines = ([line for cell in json.loads(text)["cells"] if cell["cell_type"] == "markdown" for line in
                      "".join(cell["source"]).splitlines()] if suffix == ".ipynb" else text.splitlines())
            for line in lines:
                if line.startswith("# "):
                    return line[2:].strip()
            raise ValueError(f"doc {doc!r} has no title: its file {path.name} has no line '# <title>'")
    raise ValueError(f"doc {doc!r} has no notebook or Markdown file under {_ROOT}")


def by_doc(doc: str) -> Chapter:
    """The chapter whose document name is ``doc``; ``ValueError`` for an unknown one."""
    for chapter in CHAPTERS:
        if chapter.doc == doc:
            return chapter
    raise ValueError(f"doc must be one of {[c.doc for c in CHAPTERS]}, got {doc!r}")


def executed() -> list[Chapter]:
    """The chapters the build executes before the ledger, longest first (the ledger is :data:`LEDGER`)."""
    return sorted((c for c in CHAPTERS if c.cost > 0), key=lambda c: -c.cost)


def map_rows() -> list[tuple[str, str, str]]:
    """``(doc, what, paper)`` of every chapter on the intro's map, in the book's order."""
    return [(c.doc, c.what, c.paper) for c in CHAPTERS if c.what]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.chapters", description="The book's chapter registry.")
    parser.add_argument("what", choices=["execute", "ledger", "toc"],
                        help="execute: the notebooks the build executes before the ledger, longest first; "
                             "ledger: the claims ledger's notebook; toc: every document in order")
    args = parser.parse_args(argv)
    if args.what == "execute":
        print(" ".join(f"{c.doc}.ipynb" for c in executed()))
    elif args.what == "ledger":
        print(f"{LEDGER}.ipynb")
    else:
        print("\n".join(c.doc for c in CHAPTERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
