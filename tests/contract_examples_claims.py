"""Contract examples of the claims page's rendering (registered by :mod:`contract_examples`)."""

from contract_examples import example

import lib.claims


def _claims() -> list[lib.claims.Claim]:
    return [lib.claims.Claim("contract-example", "a claim with $x^*$", "paper", "x < 1", "0.5", "", True, False,
                             "book/02_support_recovery", "sec-sup-off-support", "smoke", "met", "0.5 of the bound (criterion < 1)",
                             "reproduced")]


@example("lib.claims.markdown_summary")
def _(): return {"claims": _claims()}
@example("lib.claims.markdown_chapters")
def _(): return {"claims": _claims()}
@example("lib.claims.section_label")
def _(): return {"chapter": "book/02_support_recovery"}
@example("lib.claims.markdown_findings", allow={"shown": ["huge"]})  # a cap on the listed claims
def _(): return {"claims": _claims(), "shown": 3}
