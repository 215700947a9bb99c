"""The claims ledger: required fields, statuses, and the Markdown table of the claims page."""

import pytest

import lib.claims as claims

VALID = dict(source="book", criterion="the value is below 1", measured="0.5", held=True, chapter="book/01_model",
             label="sec-model-coherence")


@pytest.fixture(autouse=True)
def _results(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS", str(tmp_path))
    monkeypatch.setenv("BOOK_SCALE", "smoke")


def test_record_round_trips_and_statuses():
    claims.record("a-holds", "A claim", **VALID)
    claims.record("b-consistent", "An asymptotic claim", **{**VALID, "asymptotic": True})
    claims.record("c-differs", "A claim of the paper", **{**VALID, "source": "paper", "held": False, "explanation": "why"})
    loaded = claims.load()
    assert [c.status for c in loaded] == ["holds", "consistent", "differs"]
    assert claims.counts(loaded) == {"paper": 1, "reconstruction": 0, "book": 2, "holds": 1, "consistent": 1, "differs": 1, "fails": 0}


@pytest.mark.parametrize("field", ["criterion", "measured", "claim", "label"])
def test_record_requires_non_empty_text(field):
    kwargs = {**VALID, "claim": "A claim"}
    kwargs[field] = "  "
    with pytest.raises(ValueError, match=field):
        claims.record("x", **kwargs)


def test_record_rejects_bad_source_and_flags():
    with pytest.raises(ValueError, match="source"):
        claims.record("x", "A claim", **{**VALID, "source": "v1"})
    with pytest.raises(TypeError, match="held"):
        claims.record("x", "A claim", **{**VALID, "held": 1})
    with pytest.raises(TypeError, match="criterion"):
        claims.record("x", "A claim", **{**VALID, "criterion": None})


def test_markdown_cell_keeps_math_and_escapes_markup():
    assert claims.markdown_cell("W = A*ᵀ and x*") == "W = A\\*ᵀ and x\\*"
    assert claims.markdown_cell("$a*b_c$ and a_b") == "$a*b_c$ and a\\_b"
    assert claims.markdown_cell("$|x|$ | y") == "$\\|x\\|$ \\| y"
    assert claims.markdown_cell("") == "—"


def test_markdown_table_has_one_row_per_claim_with_every_column():
    claims.record("a-holds", "A claim with $x^*$", **VALID)
    table = claims.markdown_table(claims.load()).splitlines()
    assert len(table) == 3
    assert table[0].count("|") == 8 and table[2].count(" | ") == 6
    assert "this book" in table[2] and "✓ holds" in table[2] and "{ref}`ch. 1 <sec-model-coherence>`" in table[2]
