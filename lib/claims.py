"""The claims ledger: every chapter records what it measured, and the "Claims at a glance" page reads it.

A chapter calls :func:`record` once per claim, right after computing it.  Each record is a small
JSON file under ``results/claims/`` (or ``$BOOK_RESULTS/claims/``), written at build time, so the
summary page is generated from what the chapters computed in the same build, never typed by hand.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from lib import scale as _scale

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Claim:
    """One row of the claims page.

    Attributes
    ----------
    claim_id : str
        Stable identifier, e.g. ``"thm3.1-false-positives"``.
    claim : str
        The claim in a few words (e.g. "Theorem 3.1: off-support units stay off").
    source : str
        ``"paper"`` for a claim of the paper, ``"ours"`` for one this book adds.
    measured : str
        What the chapter measured, formatted for display.
    paper : str
        The paper's number where it gives one, else ``""``.
    held : bool
        Whether the claim held in this build.
    explanation : str
        For a claim of the paper that did not reproduce: why, in a sentence, with the chapter's own
        evidence (asserted there).  A claim that failed *without* an explanation is a failure of the
        build; one with an explanation is a documented difference from the paper.
    chapter : str
        Document name of the chapter (e.g. ``"book/03_support_recovery"``), for the link.
    label : str
        MyST label of the section that shows the evidence.
    scale : str
        The ``BOOK_SCALE`` it was measured at.
    """

    claim_id: str
    claim: str
    source: str
    measured: str
    paper: str
    held: bool
    chapter: str
    label: str
    scale: str
    explanation: str = ""

    @property
    def status(self) -> str:
        """``"held"``, ``"differs"`` (did not hold, explained) or ``"failed"`` (did not hold, unexplained)."""
        if self.held:
            return "held"
        return "differs" if self.explanation else "failed"


def results_dir() -> Path:
    """Folder of the build's results: ``$BOOK_RESULTS`` or ``results/`` at the repository root."""
    root = os.environ.get("BOOK_RESULTS")
    return Path(root) if root else Path(__file__).resolve().parents[1] / "results"


def record(
    claim_id: str, claim: str, *, measured: str, held: bool, chapter: str, label: str,
    paper: str = "", source: str = "paper", explanation: str = "",
) -> Claim:
    """Write one claim to the ledger and return it (see :class:`Claim` for the fields)."""
    if not _ID.match(claim_id):
        raise ValueError(f"claim_id must match {_ID.pattern}, got {claim_id!r}")
    if source not in ("paper", "ours"):
        raise ValueError(f"source must be 'paper' or 'ours', got {source!r}")
    entry = Claim(claim_id, claim, source, measured, paper, bool(held), chapter, label, _scale.current().name, explanation)
    folder = results_dir() / "claims"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{claim_id}.json").write_text(json.dumps(asdict(entry), indent=1))
    return entry


def load() -> list[Claim]:
    """All recorded claims, sorted by chapter then id."""
    folder = results_dir() / "claims"
    claims = [Claim(**json.loads(path.read_text())) for path in sorted(folder.glob("*.json"))]
    return sorted(claims, key=lambda c: (c.chapter, c.claim_id))
