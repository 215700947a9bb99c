"""The claims ledger: required fields, statuses, and the Markdown table of the claims page."""

import re

import pytest
from myst_parser.config.main import MdParserConfig
from myst_parser.mdit_to_docutils.base import DocutilsRenderer
from myst_parser.parsers.mdit import create_md_parser

import lib.chapters
import lib.claims as claims

VALID = dict(source="book", criterion="the value is below 1", measured="0.5", held=True, chapter="book/01_model",
             label="sec-model-coherence", hypotheses="n/a", margin="0.5 of the threshold 1", verdict="beyond the paper")


@pytest.fixture(autouse=True)
def _results(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS", str(tmp_path))
    monkeypatch.setenv("BOOK_SCALE", "smoke")
    monkeypatch.setattr(claims, "_CURRENT", {})  # no chapter set by another test


def test_check_records_and_passes_a_claim_that_held():
    entry = claims.check("a-holds", claim="A claim", **VALID)
    assert entry.status == "holds" and [c.claim_id for c in claims.load()] == ["a-holds"]


def test_check_fails_on_a_claim_that_did_not_hold_after_recording_it():
    with pytest.raises(claims.ClaimFailed, match="'a-fails' did not hold: A claim. Criterion: the value is below 1. Measured: 0.5"):
        claims.check("a-fails", claim="A claim", **{**VALID, "held": False})
    assert [c.status for c in claims.load()] == ["fails"]  # the ledger shows the failure
    entry = claims.check("a-differs", claim="A claim", **{**VALID, "held": False, "explanation": "the bias switches units off"})
    assert entry.status == "differs"


def test_check_takes_the_chapter_named_once():
    fields = {k: v for k, v in VALID.items() if k != "chapter"}
    with pytest.raises(ValueError, match="chapter must be given"):
        claims.check("a-holds", claim="A claim", **fields)
    claims.use_chapter("book/02_support_recovery")
    assert claims.check("a-holds", claim="A claim", **fields).chapter == "book/02_support_recovery"
    assert claims.check("b-holds", claim="A claim", **VALID).chapter == "book/01_model"  # given explicitly
    with pytest.raises(TypeError):
        claims.check("c-holds", "A claim", **VALID)  # every field but the id is keyword-only
    with pytest.raises(TypeError, match="held"):
        claims.check("d-holds", claim="A claim", **{**VALID, "held": "yes"})


def test_record_round_trips_and_statuses():
    claims.check("a-holds", claim="A claim", **VALID)
    claims.check("b-consistent", claim="An asymptotic claim", **{**VALID, "asymptotic": True})
    claims.check("c-differs", claim="A claim of the paper", **{**VALID, "source": "paper", "held": False, "explanation": "why"})
    loaded = claims.load()
    assert [c.status for c in loaded] == ["holds", "consistent", "differs"]
    assert claims.counts(loaded) == {"paper": 1, "isit": 0, "reconstruction": 0, "book": 2, "holds": 1, "consistent": 1, "differs": 1,
                                     "fails": 0, "reproduced": 0, "not reproduced": 0, "beyond the paper": 3, "not testable": 0,
                                     "method": 0}


@pytest.mark.parametrize("field", ["criterion", "measured", "claim", "label", "margin"])
def test_record_requires_non_empty_text(field):
    kwargs = {**VALID, "claim": "A claim"}
    kwargs[field] = "  "
    with pytest.raises(ValueError, match=field):
        claims.check("x", **kwargs)


def test_record_rejects_bad_source_and_flags():
    with pytest.raises(ValueError, match="source"):
        claims.check("x", claim="A claim", **{**VALID, "source": "v1"})
    with pytest.raises(TypeError, match="held"):
        claims.check("x", claim="A claim", **{**VALID, "held": 1})
    with pytest.raises(TypeError, match="criterion"):
        claims.check("x", claim="A claim", **{**VALID, "criterion": None})


def test_audit_fields_are_checked_against_each_other():
    """A check outside its statement's hypotheses is the book's observation; a "reproduced" claim held."""
    assert claims.check("a-outside", claim="A claim", **{**VALID, "hypotheses": "not met: p < nu"}).hypotheses.startswith("not met")
    for source in ("paper", "reconstruction"):
        with pytest.raises(ValueError, match="source must be 'book'"):
            claims.check("x", claim="A claim", **{**VALID, "source": source, "hypotheses": "not met: the bias range"})
    with pytest.raises(ValueError, match="hypotheses"):
        claims.check("x", claim="A claim", **{**VALID, "hypotheses": "not met: "})
    with pytest.raises(ValueError, match="hypotheses"):
        claims.check("x", claim="A claim", **{**VALID, "hypotheses": "mostly"})
    with pytest.raises(ValueError, match="verdict"):
        claims.check("x", claim="A claim", **{**VALID, "verdict": "fine"})
    with pytest.raises(ValueError, match="verdict 'reproduced'"):
        claims.check("x", claim="A claim", **{**VALID, "verdict": "reproduced", "held": False, "explanation": "why"})
    assert not (claims.results_dir() / "claims" / "x.json").exists()  # refused before anything was written


def test_markdown_cell_keeps_math_and_escapes_markup():
    assert claims.markdown_cell("W = A*ᵀ and x*") == "W = A\\*ᵀ and x\\*"
    assert claims.markdown_cell("- 3 units") == "\\- 3 units" and claims.markdown_cell("1. a") == "1\\. a"  # no list
    assert claims.markdown_cell("12 units, -0.5") == "12 units, -0.5"
    assert claims.markdown_cell("$a*b_c$ and a_b") == "$a*b_c$ and a\\_b"
    assert claims.markdown_cell("$|x|$ | y") == "$\\|x\\|$ \\| y"
    assert claims.markdown_cell("") == "—"


# ---- the claims page ------------------------------------------------------------------------------

def _synthetic() -> list[claims.Claim]:
    """Claims of three chapters, with every verdict and status, a check outside its hypotheses, math and markup."""
    rows = [
        ("b-method", "book/02_support_recovery", dict(verdict="method", criterion="the fast estimator equals the exact one")),
        ("a-theorem", "book/02_support_recovery",
         dict(source="paper", verdict="reproduced", hypotheses="met", asymptotic=True, paper="$\\le h^{-p}$",
              claim="Theorem 3.1: W = A*ᵀ keeps $|x_i^*| \\le 1$ off | on")),
        ("c-bias", "book/02_support_recovery",
         dict(verdict="not reproduced", hypotheses="not met: p < ν (p = 0.3)", claim="At the paper's sizes the bias kills units")),
        ("coh-slope", "book/04b_fixed_coherence",
         dict(source="reconstruction", verdict="not reproduced", held=False, hypotheses="met",
              explanation="the slope is $-0.2$, not $-0.5$", claim="The slope is $p - 1$")),
        ("model-text", "book/01_model", dict(source="isit", verdict="not testable", hypotheses="met", claim="A [bracketed] _claim_")),
        ("model-more", "book/01_model", dict(verdict="beyond the paper", measured="- 3 units")),
    ]
    for claim_id, chapter, fields in rows:
        claims.check(claim_id, **{**VALID, "claim": f"claim {claim_id}", "chapter": chapter, "label": f"sec-{claim_id}", **fields})
    return claims.load()


def test_counts_cover_every_verdict():
    found = claims.counts(_synthetic())
    assert [found[v] for v in claims.VERDICTS] == [1, 2, 1, 1, 1] and sum(found[v] for v in claims.VERDICTS) == 6
    assert (found["holds"], found["consistent"], found["differs"]) == (4, 1, 1) and found["isit"] == 1


def test_section_label_is_the_chapter_stem():
    assert claims.section_label("book/02_support_recovery") == "claims-02-support-recovery"
    assert claims.section_label("book/04b_fixed_coherence") == "claims-04b-fixed-coherence"
    for doc in ("book/07_claims", "book/00_intro", "02_support_recovery"):  # no claims, or not a document name
        with pytest.raises(ValueError, match="chapter must be one of"):
            claims.section_label(doc)


def test_summary_counts_verdicts_per_chapter_and_lists_the_contradictions():
    summary = claims.markdown_summary(_synthetic())
    lines = summary.splitlines()
    rows = [line for line in lines if line.startswith("| {doc}")]
    docs = [c.doc for c in lib.chapters.CHAPTERS if c.claims]
    assert [row.split("</", 1)[1].split(">", 1)[0] for row in rows] == docs  # every chapter, in the book's order
    cells = {row.split("</", 1)[1].split(">", 1)[0]: [cell.strip() for cell in row.split("|")[2:-1]] for row in rows}
    assert cells["book/02_support_recovery"] == ["[3](claims-02-support-recovery)", "1", "**1**", "0", "0", "1"]
    assert cells["book/01_model"] == ["[2](claims-01-model)", "0", "0", "1", "1", "0"]
    assert cells["book/04b_fixed_coherence"] == ["[1](claims-04b-fixed-coherence)", "0", "**1**", "0", "0", "0"]
    assert cells["book/03_criticality"] == ["[0](claims-03-criticality)", "0", "0", "0", "0", "0"]
    assert "{doc}`A layer of ReLUs recovers the support (Theorem 3.1) </book/02_support_recovery>`" in rows[1]  # linked by title
    assert "| **all chapters** | **6** | **1** | **2** | **1** | **1** | **1** |" in lines
    findings = [line for line in lines if line.startswith("- ")]
    assert len(findings) == 2 and "2)" in summary.split("contradict the paper")[1].splitlines()[0]
    assert findings[0].startswith("- At the paper's sizes the bias kills units") and "[its card](claim-c-bias)" in findings[0]
    assert "evidence: [A layer of ReLUs recovers the support (Theorem 3.1)](sec-c-bias)" in findings[0]
    assert findings[1].startswith("- The slope is $p - 1$") and "(sec-coh-slope)" in findings[1]
    assert "No finding of this build contradicts the paper" in claims.markdown_summary([c for c in _synthetic()
                                                                                        if c.verdict != "not reproduced"])


def test_chapters_render_one_labelled_section_per_chapter_and_one_card_per_claim():
    page = claims.markdown_chapters(_synthetic())
    labels = [line for line in page.splitlines() if line.startswith("(claims-")]
    assert labels == [f"({claims.section_label(c.doc)})=" for c in lib.chapters.CHAPTERS if c.claims]
    section = page.split("(claims-02-support-recovery)=\n", 1)[1].split("(claims-03-criticality)=", 1)[0]
    heading, verdicts = section.splitlines()[:3:2]
    assert heading == "### {doc}`A layer of ReLUs recovers the support (Theorem 3.1) </book/02_support_recovery>`"
    assert verdicts == "3 claims: 1 reproduced, 1 not reproduced, 1 the book's method"
    assert "No claim recorded in this build." in page.split("(claims-03-criticality)=", 1)[1].split("(claims-04-", 1)[0]
    cards = {block.split(")=", 1)[0]: re.split(r"\n:::(?:\n|$)", block)[0] for block in page.split("(claim-")[1:]}  # to its fence's end
    assert list(cards) == ["model-more", "model-text", "a-theorem", "b-method", "c-bias", "coh-slope"]  # by chapter, then id
    for claim_id, card in cards.items():
        fence, badges, *rest = card.splitlines()[1:]
        assert fence.startswith(":::{container} claim-card claim-")
        assert badges.startswith("{bdg-") and badges.count("{bdg-") < 4 and badges.index(" **") > badges.rindex("{bdg-")  # status, verdict, claim
        fields = [line for line in rest if line and not line.startswith((":", "(", "#"))]
        assert fields[:4] == ["measured", "margin", "criterion", "hypotheses"] and fields[-1] == "source", claim_id
    theorem = cards["a-theorem"]
    assert "{bdg-primary-line}`≈ consistent at the sizes tested` {bdg-success}`reproduced` **" in theorem
    assert "**Theorem 3.1: W = A\\*ᵀ keeps $\\|x_i^*\\| \\le 1$ off \\| on**" in theorem  # markup escaped, math kept
    assert "the paper\n: $\\le h^{-p}$" in theorem and "source\n: the paper (arXiv text) · [the evidence](sec-a-theorem)" in theorem
    assert "claim-card claim-consistent claim-reproduced" in theorem and "outside the hypotheses" not in theorem
    assert "{bdg-warning}`outside the hypotheses`" in cards["c-bias"] and "hypotheses\n: not met: p \\< ν (p = 0.3)" in cards["c-bias"]
    slope = cards["coh-slope"]
    assert "{bdg-warning-line}`≠ differs (explained)` {bdg-danger}`not reproduced`" in slope
    assert "why it differs\n: the slope is $-0.2$, not $-0.5$" in slope and "source\n: reconstruction" in slope
    assert "source\n: the ISIT abstract" in cards["model-text"] and "**A \\[bracketed\\] \\_claim\\_**" in cards["model-text"]
    assert "measured\n: \\- 3 units" in cards["model-more"] and "why it differs" not in cards["model-more"]
    assert page.count(":::{container}") == len(re.findall(r"\n:::(?:\n|$)", page)) == 6


def test_chapters_parse_as_myst_sections_cards_and_definitions():
    """The generated Markdown, read by MyST's own parser: a target and a heading per chapter, a fence per card, no stray list."""
    parser = create_md_parser(MdParserConfig(enable_extensions={"colon_fence", "deflist", "dollarmath"}), DocutilsRenderer)
    tokens = parser.parse(claims.markdown_summary(_synthetic()) + "\n\n" + claims.markdown_chapters(_synthetic()))
    types = [t.type for t in tokens]
    assert types.count("myst_target") == 9 + 6 and types.count("heading_open") == 9
    assert types.count("colon_fence") == 7 and types.count("table_open") == 0  # the summary is fenced in a container too
    summary = [t for t in tokens if t.type == "colon_fence" and "claims-summary" in t.info]
    assert [t.type for t in parser.parse(summary[0].content)].count("tr_open") == 1 + 9 + 1  # header, chapters, total
    cards = [t for t in tokens if t.type == "colon_fence" and "claim-card" in t.info]
    assert len(cards) == 6
    for card in cards:  # each card's body: a paragraph of badges and claim, then a definition list, and no stray markup
        inner = parser.parse(card.content)
        assert [t.type for t in inner if t.level == 0 and t.type.endswith("_open")] == ["paragraph_open", "dl_open"], card.content
        assert not any(t.type.endswith("list_open") for t in inner), card.content  # "- 3 units" is text
        spans = [child.type for t in inner if t.type == "inline" for child in t.children or []]
        assert spans.count("strong_open") == 1 and "em_open" not in spans and "link_open" in spans, card.content


def test_rendering_refuses_a_claim_outside_the_registry_and_a_wrong_argument():
    entry = claims.Claim("x", "a claim", "book", "c", "m", "", True, False, "book/07_claims", "sec-x", "smoke", "n/a", "0.5", "method")
    for render in (claims.markdown_summary, claims.markdown_chapters):
        with pytest.raises(ValueError, match="registry's chapters with claims"):
            render([entry])
        with pytest.raises(TypeError, match="claims must be a list"):
            render("claims")


def test_findings_sum_up_the_ledger_in_a_few_linked_lines():
    lines = claims.markdown_findings(_synthetic()).splitlines()
    assert len(lines) <= 7 and all(line.startswith("- **") for line in lines)
    assert lines[0].startswith("- **Reproduced**: 1 of the 4 claims that bear on the paper's text")  # 6 less method, beyond
    assert "{doc}`A layer of ReLUs recovers the support (Theorem 3.1) </book/02_support_recovery>` (1)" in lines[0]
    contradicted = next(line for line in lines if line.startswith("- **Not reproduced** (2)"))
    assert "([evidence](sec-c-bias))" in contradicted and "([evidence](sec-coh-slope))" in contradicted
    assert any(line.startswith("- **Outside the hypotheses** (1)") for line in lines)
    assert any(line.startswith("- **Not testable from the text** (1)") for line in lines)
    short = claims.markdown_findings(_synthetic(), shown=1)
    assert "and 1 more on the [claims page](sec-claims-summary)" in short
    assert "recorded no claims" in claims.markdown_findings([])
    with pytest.raises(ValueError, match="shown"):
        claims.markdown_findings(_synthetic(), shown=0)
