"""The claims ledger: every chapter records what it measured, and the "Claims at a glance" page reads it.

A chapter names itself once (:func:`use_chapter`), then calls :func:`check` once per claim, right after
computing it: one call, keyword-only fields, that records the claim and raises :class:`ClaimFailed`
unless it held or carries its explanation (so no chapter asserts by hand).  Each record is a small
JSON file under ``results/claims/`` (or ``$BOOK_RESULTS/claims/``), written at build time, so the
summary page is generated from what the chapters computed in the same build, never typed by hand.

Vocabulary
----------
source
    ``"paper"`` (the paper's arXiv text says it), ``"isit"`` (the abstract of its published ISIT
    version says it, the arXiv text does not), ``"reconstruction"`` (a step or constant the book
    reconstructs where the paper's mathematics was lost, see the appendix), ``"book"`` (this book's
    own finding or inference).
status
    ``"holds"`` (the check passed, a finite statement), ``"consistent"`` (the check passed for an
    asymptotic statement: consistent at the sizes tested, not proven), ``"differs"`` (did not hold;
    the chapter explains why and asserts its explanation) and ``"fails"`` (did not hold, unexplained:
    the chapter's assert then fails the build).
hypotheses
    Whether the run satisfies the hypotheses of the statement the claim cites: ``"met"``,
    ``"not met: <which condition>"`` or ``"n/a"`` (an empirical claim, or a statement without
    hypotheses).  A check run outside its statement's hypotheses is not evidence for that statement:
    its source must be ``"book"`` (:func:`check` refuses anything else).
margin
    How close the measurement came to the criterion's threshold, in words and numbers ("0.52 of the
    bound, criterion < 1"; "z = 3.4, criterion z > 2"), so a reader sees a near miss.
verdict
    What the claim says about the paper, separate from whether the check passed (:data:`VERDICTS`):
    ``"reproduced"``, ``"not reproduced"``, ``"beyond the paper"`` (a question the paper does not
    ask), ``"not testable"`` (the paper's text does not give enough to test it) or ``"method"`` (a
    check of the book's own machinery, no bearing on the paper).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from lib import _validate as valid
from lib import chapters as _chapters
from lib import scale as _scale

__all__ = ["Claim", "ClaimFailed", "SOURCES", "SOURCE_LABELS", "STATUSES", "STATUS_LABELS", "VERDICTS", "VERDICT_LABELS",
           "check", "counts", "load", "markdown_cell", "markdown_chapters", "markdown_findings", "markdown_summary", "results_dir",
           "section_label", "use_chapter"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
SOURCES = ("paper", "isit", "reconstruction", "book")
STATUSES = ("holds", "consistent", "differs", "fails")
VERDICTS = ("reproduced", "not reproduced", "beyond the paper", "not testable", "method")
_NOT_MET = "not met: "


@dataclass(frozen=True)
class Claim:
    """One row of the claims page.

    Attributes
    ----------
    claim_id : str
        Stable identifier, e.g. ``"thm3.1-false-positives"``.
    claim : str
        The claim in a few words (e.g. "Theorem 3.1: off-support units stay off"); may hold MyST math.
    source : str
        One of :data:`SOURCES`.
    criterion : str
        What the check asserts, in words and numbers (the tolerance it uses).
    measured : str
        What the chapter measured, formatted for display.
    paper : str
        The paper's number where it gives one, else ``""``.
    held : bool
        Whether the check passed in this build.
    asymptotic : bool
        Whether the claim is asymptotic (in ``h``), so a pass only means "consistent at the sizes tested".
    explanation : str
        For a claim that did not hold: why, in a sentence, with the chapter's own evidence (asserted
        there).  Without one, a claim that did not hold is a failure of the build.
    chapter : str
        Document name of the chapter (e.g. ``"book/02_support_recovery"``), for the link.
    label : str
        MyST label of the section that shows the evidence.
    scale : str
        The ``BOOK_SCALE`` it was measured at.
    hypotheses, margin, verdict : str
        See the module docstring.
    """

    claim_id: str
    claim: str
    source: str
    criterion: str
    measured: str
    paper: str
    held: bool
    asymptotic: bool
    chapter: str
    label: str
    scale: str
    hypotheses: str
    margin: str
    verdict: str
    explanation: str = ""

    @property
    def status(self) -> str:
        """One of :data:`STATUSES` (see the module docstring)."""
        if self.held:
            return "consistent" if self.asymptotic else "holds"
        return "differs" if self.explanation else "fails"


class ClaimFailed(AssertionError):
    """A claim that did not hold and carries no explanation: the chapter, and so the build, fails on it."""


_CURRENT: dict[str, str] = {}


def use_chapter(chapter: str) -> str:
    """Make ``chapter`` (a document of :data:`lib.chapters.CHAPTERS`, ``"book/02_support_recovery"``) the default of :func:`check`'s ``chapter``."""
    _CURRENT["chapter"] = _chapter_with_claims(chapter)
    return chapter


def _chapter_with_claims(chapter: str) -> str:
    known = [c.doc for c in _chapters.CHAPTERS if c.claims]
    if valid.text(chapter, "chapter") not in known:
        raise ValueError(f"chapter must be one of the registry's chapters with claims {known}, got {chapter!r}")
    return chapter


def check(claim_id: str, *, claim: str, criterion: str, measured: str, held: bool, source: str, label: str,
          hypotheses: str, margin: str, verdict: str, chapter: str | None = None, paper: str = "", asymptotic: bool = False,
          explanation: str = "") -> Claim:
    """Record one claim (see :class:`Claim` for the fields) and fail unless it held or is explained.

    ``chapter`` defaults to the one named by :func:`use_chapter`.  A claim that did not hold is
    recorded first (so the ledger shows it), then, without an ``explanation``, raises.

    Raises
    ------
    ClaimFailed
        If ``held`` is false and ``explanation`` is empty.
    TypeError
        If a text field is not a ``str`` or ``held``/``asymptotic`` is not a bool.
    ValueError
        If ``claim_id`` is malformed, ``source`` is not one of :data:`SOURCES`, ``verdict`` not one of
        :data:`VERDICTS`, ``hypotheses`` not ``"met"``, ``"n/a"`` or ``"not met: <condition>"``, a
        claim outside its statement's hypotheses is credited to the paper or a reconstruction, a
        ``"reproduced"`` claim did not hold, a required text field (``claim``, ``criterion``,
        ``measured``, ``label``, ``margin``) is empty, or no chapter is given or set.
    """
    if chapter is None:
        if "chapter" not in _CURRENT:
            raise ValueError("chapter must be given, or set once per chapter by lib.claims.use_chapter")
        chapter = _CURRENT["chapter"]
    entry = _record(claim_id, claim, source=source, criterion=criterion, measured=measured, held=held, chapter=chapter,
                   label=label, paper=paper, asymptotic=asymptotic, explanation=explanation, hypotheses=hypotheses,
                   margin=margin, verdict=verdict)
    if entry.status == "fails":
        raise ClaimFailed(f"claim {claim_id!r} did not hold: {claim}. Criterion: {criterion}. Measured: {measured}")
    return entry


def results_dir() -> Path:
    """Folder of the build's results: ``$BOOK_RESULTS`` or ``results/`` at the repository root."""
    root = os.environ.get("BOOK_RESULTS")
    return Path(root) if root else Path(__file__).resolve().parents[1] / "results"


def _record(
    claim_id: str, claim: str, *, source: str, criterion: str, measured: str, held: bool, chapter: str, label: str,
    hypotheses: str, margin: str, verdict: str, paper: str = "", asymptotic: bool = False, explanation: str = "",
) -> Claim:
    """Write one claim to the ledger and return it (see :class:`Claim` for the fields).

    Raises
    ------
    TypeError
        If a text field is not a ``str`` or ``held``/``asymptotic`` is not a bool.
    ValueError
        As :func:`check` (every field checked before anything is written).
    """
    valid.text(claim_id, "claim_id")
    if not _ID.match(claim_id):
        raise ValueError(f"claim_id must match {_ID.pattern}, got {claim_id!r}")
    valid.text(source, "source")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    for name, value in (("claim", claim), ("criterion", criterion), ("measured", measured), ("chapter", chapter), ("label", label),
                        ("margin", margin)):
        valid.text(value, name)
    for name, value in (("paper", paper), ("explanation", explanation)):
        valid.text(value, name, allow_empty=True)
    held = valid.flag(held, "held")
    _audit(source, held, valid.text(hypotheses, "hypotheses"), valid.text(verdict, "verdict"))
    entry = Claim(claim_id, claim, source, criterion, measured, paper, held, valid.flag(asymptotic, "asymptotic"), chapter,
                  label, _scale.current().name, hypotheses, margin, verdict, explanation)
    folder = results_dir() / "claims"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{claim_id}.json").write_text(json.dumps(asdict(entry), indent=1))
    return entry


def _audit(source: str, held: bool, hypotheses: str, verdict: str) -> None:
    """Refuse a record whose audit fields contradict each other (see the module docstring)."""
    if hypotheses not in ("met", "n/a") and not (hypotheses.startswith(_NOT_MET) and hypotheses[len(_NOT_MET):].strip()):
        raise ValueError(f"hypotheses must be 'met', 'n/a' or '{_NOT_MET}<which condition>', got {hypotheses!r}")
    if hypotheses.startswith(_NOT_MET) and source != "book":
        raise ValueError(f"source must be 'book' for a check run outside the hypotheses of the statement it cites "
                         f"({hypotheses!r}): it is this book's observation, not evidence for the paper's statement; got {source!r}")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}; got {verdict!r}")
    if verdict == "reproduced" and not held:
        raise ValueError("verdict 'reproduced' needs a check that held (held=True); a claim that did not hold is 'not reproduced'")


def load() -> list[Claim]:
    """All recorded claims, sorted by chapter then id."""
    folder = results_dir() / "claims"
    claims = [Claim(**json.loads(path.read_text())) for path in sorted(folder.glob("*.json"))]
    return sorted(claims, key=lambda c: (c.chapter, c.claim_id))


SOURCE_LABELS = {"paper": "the paper (arXiv text)", "isit": "the ISIT abstract", "reconstruction": "reconstruction", "book": "this book"}
VERDICT_LABELS = {"reproduced": "reproduced", "not reproduced": "not reproduced", "beyond the paper": "beyond the paper",
                  "not testable": "not testable from the text", "method": "the book's method"}
STATUS_LABELS = {"holds": "✓ holds", "consistent": "≈ consistent at the sizes tested",
                 "differs": "≠ differs (explained)", "fails": "✗ fails"}
# The badges of a claim's card (sphinx-design's ``bdg-*`` roles): the status outlined, the verdict filled.
_STATUS_BADGES = {"holds": "success-line", "consistent": "primary-line", "differs": "warning-line", "fails": "danger-line"}
_VERDICT_BADGES = {"reproduced": "success", "not reproduced": "danger", "beyond the paper": "info", "not testable": "warning",
                   "method": "muted"}
_MATH = re.compile(r"(\$\$.+?\$\$|\$[^$]+\$)")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
_LIST_MARKER = re.compile(r"^(?:([-+])|(\d+)([.)]))(?=\s)")  # "- a", "+ b", "1. c" would open a list


def markdown_cell(text: str) -> str:
    r"""``text`` made safe as one line of MyST Markdown (a table cell, a definition), its ``$...$`` math kept as math.

    Outside math every character that Markdown would read as markup (``*``, ``_``, ``|``, brackets,
    backticks, ...) is escaped, so "A*ᵀ x*" stays literal instead of turning into emphasis, and so
    is a list marker that opens the text ("- 3 units" is no list); inside math only ``|`` is escaped
    (a table would split the cell there) and MathJax typesets the rest.  An empty text becomes "—".

    >>> markdown_cell("W = A*ᵀ, $|x_i^*| \\le 1$")
    'W = A\\*ᵀ, $\\|x_i^*\\| \\le 1$'
    """
    text = valid.text(text, "text", allow_empty=True).replace("\n", " ").strip()
    if not text:
        return "—"
    parts = _MATH.split(text)
    escaped = "".join(part.replace("|", "\\|") if i % 2 else _MARKDOWN_SPECIAL.sub(r"\\\1", part)
                      for i, part in enumerate(parts))
    return _LIST_MARKER.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", escaped)


def _claims(claims: object) -> list[Claim]:
    if not isinstance(claims, (list, tuple)) or not all(isinstance(c, Claim) for c in claims):
        raise TypeError(f"claims must be a list of lib.claims.Claim (as lib.claims.load returns), got {type(claims).__name__}")
    return list(claims)


def counts(claims: list[Claim]) -> dict[str, int]:
    """How many claims per source, per status and per verdict (every key of :data:`SOURCES`, :data:`STATUSES`, :data:`VERDICTS`)."""
    claims = _claims(claims)
    found = Counter(c.source for c in claims) + Counter(c.status for c in claims) + Counter(c.verdict for c in claims)
    return {key: found[key] for key in (*SOURCES, *STATUSES, *VERDICTS)}


def section_label(chapter: str) -> str:
    """The label of ``chapter``'s section on the claims page: ``"book/02_support_recovery"`` → ``"claims-02-support-recovery"``.

    ``chapter`` is a document of :data:`lib.chapters.CHAPTERS` that records claims; the chapter's last
    sentence links its section by this label.
    """
    return "claims-" + _chapters.by_doc(_chapter_with_claims(chapter)).name.replace("_", "-")


def _by_chapter(claims: list[Claim]) -> dict[str, list[Claim]]:
    """The claims of every chapter of the registry that records claims, in the book's order (a chapter may have none)."""
    groups: dict[str, list[Claim]] = {c.doc: [] for c in _chapters.CHAPTERS if c.claims}
    for claim in claims:
        if claim.chapter not in groups:
            raise ValueError(f"claims must come from the registry's chapters with claims {list(groups)}; "
                             f"claim {claim.claim_id!r} names {claim.chapter!r}")
        groups[claim.chapter].append(claim)
    return groups


def _chapter_link(chapter: str) -> str:
    """A ``{doc}`` link to ``chapter`` whose text is the chapter's title."""
    title = _chapters.by_doc(chapter).title
    if "`" in title or "<" in title:
        raise ValueError(f"chapter {chapter!r}: a title linked by the claims page may hold no '`' or '<', got {title!r}")
    return f"{{doc}}`{title} </{chapter}>`"


def _row_label(claim: Claim) -> str:
    return f"claim-{claim.claim_id}"


def _verdict_phrase(claims: list[Claim]) -> str:
    """The line under a chapter's heading, "3 claims: 2 reproduced, 1 beyond the paper" (the verdicts that occur)."""
    found = Counter(c.verdict for c in claims)
    parts = [f"{found[v]} {VERDICT_LABELS[v]}" for v in VERDICTS if found[v]]
    noun = "claim" if len(claims) == 1 else "claims"
    return f"{len(claims)} {noun}: " + ", ".join(parts) if parts else "No claim recorded in this build."


def markdown_summary(claims: list[Claim]) -> str:
    """The top of the claims page, in MyST Markdown: verdicts per chapter, then the findings that contradict the paper.

    A table (in a ``{container}`` of class ``claims-summary``) with one row per chapter of the registry
    that records claims (its title linked to the chapter; its number of claims linked to its section of
    :func:`markdown_chapters`) and a column per verdict of :data:`VERDICTS` (a count of "not reproduced"
    claims in bold), with a total row; then the list of the claims whose verdict is ``"not
    reproduced"``, each with its measured value, a link to its card and one to its evidence (named by
    the chapter's title).
    """
    groups = _by_chapter(_claims(claims))
    lines = [":::{container} claims-summary", "| chapter | claims | " + " | ".join(VERDICTS) + " |",
             "| :--- | :---: |" + " :---: |" * len(VERDICTS)]
    for chapter, group in groups.items():
        found = Counter(c.verdict for c in group)
        lines.append(f"| {_chapter_link(chapter)} | [{len(group)}]({section_label(chapter)}) | "  # a contradiction in bold
                     + " | ".join(f"**{found[v]}**" if v == "not reproduced" and found[v] else str(found[v]) for v in VERDICTS) + " |")
    every = [c for group in groups.values() for c in group]
    found = Counter(c.verdict for c in every)
    lines += [f"| **all chapters** | **{len(every)}** | " + " | ".join(f"**{found[v]}**" for v in VERDICTS) + " |", ":::"]
    contradicting = [c for c in every if c.verdict == "not reproduced"]
    lines += ["", f"**Findings that contradict the paper** (verdict *not reproduced*, {len(contradicting)}):"
              if contradicting else "**No finding of this build contradicts the paper** (no claim has the verdict *not reproduced*).", ""]
    for c in contradicting:
        title = markdown_cell(_chapters.by_doc(c.chapter).title)
        lines.append(f"- {markdown_cell(c.claim)} — measured: {markdown_cell(c.measured)} "
                     f"([its card]({_row_label(c)}); evidence: [{title}]({c.label}))")
    return "\n".join(lines)


def _listed(claims: list[Claim], shown: int) -> str:
    """Up to ``shown`` claims as "claim (measured; evidence)" joined by semicolons, and how many more."""
    items = [f"{markdown_cell(c.claim)} ([evidence]({c.label}))" for c in claims[:shown]]
    more = len(claims) - shown
    return "; ".join(items) + (f"; and {more} more on the [claims page](sec-claims-summary)" if more > 0 else "")


def markdown_findings(claims: list[Claim], *, shown: int = 3) -> str:
    """The intro's "what we found", in MyST Markdown: at most seven lines from the ledger, each linked to its evidence.

    How many claims reproduce the paper (by chapter), the claims that do not (verdict ``"not reproduced"``),
    the book's findings that did not come out as stated (status ``"differs"``), the checks run outside the
    hypotheses of the statements they cite, and what cannot be tested from the text; at most ``shown``
    claims are listed per line, the rest counted and left to the claims page.
    """
    claims = _claims(claims)
    shown = valid.integer(shown, "shown", minimum=1)
    if not claims:
        return "This build recorded no claims: the chapters were not executed before the pages were rendered."
    by = {v: [c for c in claims if c.verdict == v] for v in VERDICTS}
    bearing = len(claims) - len(by["method"]) - len(by["beyond the paper"])
    chapters = Counter(c.chapter for c in by["reproduced"])
    per_chapter = ", ".join(f"{_chapter_link(ch)} ({n})" for ch, n in chapters.items())
    differs = [c for c in claims if c.status == "differs" and c.verdict != "not reproduced"]
    outside = [c for c in claims if c.hypotheses.startswith(_NOT_MET)]
    lines = [f"- **Reproduced**: {len(by['reproduced'])} of the {bearing} claims that bear on the paper's text"
             + (f" — {per_chapter}." if per_chapter else ".")]
    if by["not reproduced"]:
        lines.append(f"- **Not reproduced** ({len(by['not reproduced'])}): {_listed(by['not reproduced'], shown)}.")
    if differs:
        lines.append(f"- **Did not come out as stated** ({len(differs)}, the book's own questions): {_listed(differs, shown)}.")
    if outside:
        lines.append(f"- **Outside the hypotheses** ({len(outside)}): these checks run where the conditions of the theorem they "
                     "cite do not hold at the sizes used, so they are this book's observations, not tests of the theorem.")
    if by["not testable"]:
        lines.append(f"- **Not testable from the text** ({len(by['not testable'])}): {_listed(by['not testable'], shown)}.")
    lines.append(f"- **Beyond the paper**: {len(by['beyond the paper'])} findings of the book's own, and {len(by['method'])} checks of "
                 "its methods; all on the [claims page](sec-claims-summary).")
    return "\n".join(lines)


def _card(c: Claim) -> str:
    """One claim as a card: its status, verdict and claim on top, then measured, margin, criterion, hypotheses, ..."""
    badges = [f"{{bdg-{_STATUS_BADGES[c.status]}}}`{STATUS_LABELS[c.status]}`",
              f"{{bdg-{_VERDICT_BADGES[c.verdict]}}}`{VERDICT_LABELS[c.verdict]}`"]
    if c.hypotheses.startswith(_NOT_MET):
        badges.append("{bdg-warning}`outside the hypotheses`")
    fields = [("measured", c.measured), ("margin", c.margin), ("criterion", c.criterion), ("hypotheses", c.hypotheses)]
    fields += [("the paper", c.paper)] * bool(c.paper) + [("why it differs", c.explanation)] * bool(c.explanation)
    classes = f"claim-card claim-{c.status} claim-{c.verdict.replace(' ', '-')}"
    return "\n".join([f"({_row_label(c)})=", f":::{{container}} {classes}", f"{' '.join(badges)} **{markdown_cell(c.claim)}**", ""]
                     + [f"{name}\n: {markdown_cell(text)}\n" for name, text in fields]
                     + [f"source\n: {SOURCE_LABELS[c.source]} · [the evidence]({c.label}) · `{c.claim_id}`", ":::"])


def markdown_chapters(claims: list[Claim]) -> str:
    """The claims of every chapter, in MyST Markdown: one section per chapter, one card per claim.

    Each section is labelled :func:`section_label` and headed by the chapter's title, linked to the
    chapter, over a line of its verdicts (from a notebook's output the heading becomes a rubric, which
    Sphinx still resolves as the label's title); each card (a ``{container}`` of class ``claim-card``,
    labelled ``claim-<claim_id>``) starts with the claim's status and verdict, then lists what was
    measured, the margin to the criterion's threshold, the criterion, whether the run met the cited
    statement's hypotheses, the paper's number, the explanation of a claim that differs, and the source
    with a link to the evidence.
    """
    sections = []
    for chapter, group in _by_chapter(_claims(claims)).items():
        sections.append("\n\n".join([f"({section_label(chapter)})=\n### {_chapter_link(chapter)}", _verdict_phrase(group),
                                     *map(_card, group)]))
    return "\n\n".join(sections)
