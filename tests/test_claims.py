"""The claims ledger: required fields, statuses, and the Markdown table of the claims page."""

import pytest

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
    assert claims.counts(loaded) == {"paper": 1, "isit": 0, "reconstruction": 0, "book": 2, "holds": 1, "consistent": 1, "differs": 1, "fails": 0}


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
    assert claims.markdown_cell("$a*b_c$ and a_b") == "$a*b_c$ and a\\_b"
    assert claims.markdown_cell("$|x|$ | y") == "$\\|x\\|$ \\| y"
    assert claims.markdown_cell("") == "—"


def test_markdown_table_has_one_row_per_claim_with_every_column():
    claims.check("a-holds", claim="A claim with $x^*$", **VALID)
    table = claims.markdown_table(claims.load()).splitlines()
    assert len(table) == 3
    assert table[0].count("|") == 8 and table[2].count(" | ") == 6
    assert "this book" in table[2] and "✓ holds" in table[2] and "{ref}`ch. 1 <sec-model-coherence>`" in table[2]
