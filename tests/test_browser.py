"""The built HTML as a reader meets it: every page of the table of contents in headless Chromium.

For each page: no console errors, no failed request to the local server, every math block typeset
by MathJax, every image loaded with a non-zero size, every internal link (and its #anchor)
resolving; no table, equation or image wider than its column (at 1280 and 1920 px) unless it sits
in a ``.wide-table`` scroll box; no number broken over two lines in a table; no leftover
placeholder ("nan", "{glue", "TODO", Python's True/False in a table, ...); the claims page has no
failing claim, every card shows its status, verdict, measured value, margin, criterion, hypotheses and
source, the page does not scroll sideways at 1280 or 1920 px, and every chapter's section has its
anchor (``claims-<stem>``).  ``$BOOK_HTML`` points the tests at another build's HTML.  A screenshot of each page goes to
``_build/screenshots/``.  Runs after ``jupyter-book build`` (``make test`` orders it so).
Playwright drives Debian's Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``); without it the
test skips with a message saying how to install it.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

import lib.chapters
import lib.claims

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html")  # $BOOK_HTML: another build's HTML (a mini book)
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
]

# Raw TeX left in the prose (outside code) means MathJax did not typeset it.
RAW_MATH = re.compile(r"\\\(|\\\[|\$\$|\$[A-Za-z\\{][^$\n]{0,120}\$")

# Template artefacts a reader should never see (outside code).
# ... and an unformatted float (nine or more decimals: a glued value without a format).
# ... and template braces that leaked ({{ book_scale }}), and two numbers run together in one text node
# ("0.70000.0938": a table whose columns lost their separators)
PLACEHOLDERS = re.compile(r"q√·|\bnan\b|\bNaN\b|0e\+00|\{glue|\bTODO\b|at most 0\.00\b|\b\d+\.\d{9,}|\{\{|\}\}|\d\.\d{4,}\.\d")

# Elements wider than the column they sit in, outside a deliberate `.wide-table` scroll box.  The
# limit is the article's width, or that of a `full-width` cell; display equations are measured by
# their typeset formula (`mjx-math`), not by the block around it.
TOO_WIDE = """() => {
  const article = document.querySelector('main article') || document.querySelector('main');
  const found = [];
  const els = document.querySelectorAll('main article table, main article mjx-container[display="true"] > mjx-math, main article img');
  for (const el of els) {
    if (el.closest('.wide-table')) continue;
    const limit = (el.closest('.tag_full-width, .full-width') || article).getBoundingClientRect();
    const box = el.getBoundingClientRect();
    if (box.width > limit.width + 2 || box.right > limit.right + 2) {
      const what = (el.closest('mjx-container') || el).textContent.slice(0, 60);
      found.push(`${el.tagName.toLowerCase()} ${Math.round(box.width)} px > ${Math.round(limit.width)} px: ${what}`);
    }
  }
  return found;
}"""

# Table cells holding a number (digits with signs, exponents, %, ±, brackets) whose text runs over
# more than one line, and signed or exponent numbers inside a cell's text that do.
BROKEN_NUMBERS = """() => {
  // A number is one text node: it is broken when that node wraps.  A cell may hold two lines on purpose
  // (Table 1's "ours ± s.e." over "/ paper", separated by <br>): separate text nodes are not compared.
  const numeric = /^[\\s\\d.,%eE+\\-−±×\\[\\]()–/]+$/;
  const found = [];
  for (const cell of document.querySelectorAll('main article td, main article th')) {
    const text = cell.innerText.trim();
    if (!text || text.length > 40 || !/\\d/.test(text) || !numeric.test(text)) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const rects = [...range.getClientRects()].filter(r => r.width > 0);
      if (!rects.length) continue;
      const tops = rects.map(r => r.top);
      if (Math.max(...tops) - Math.min(...tops) > 0.5 * Math.min(...rects.map(r => r.height))) { found.push(text); break; }
    }
  }
  // A signed or exponent number inside a cell's text ("relative difference 1.8e-16"), kept whole by book.js.
  for (const span of document.querySelectorAll('main article td span.num, main article th span.num')) {
    if ([...span.getClientRects()].filter(r => r.width > 0).length > 1) found.push(span.textContent);
  }
  return found;
}"""

# The claims page's cards: the badges on top (status, verdict), the claim, and each field by its name.
CLAIM_CARDS = """() => [...document.querySelectorAll('main .claim-card')].map(card => ({
  badges: [...card.querySelectorAll(':scope > p:first-child .sd-badge')].map(b => b.innerText.trim()),
  claim: card.querySelector(':scope > p:first-child').innerText,
  fields: Object.fromEntries([...card.querySelectorAll('dt')].map(dt => [dt.innerText.trim(), dt.nextElementSibling.innerText.trim()])),
}))"""
CARD_FIELDS = ("measured", "margin", "criterion", "hypotheses", "source")  # in this order, "the paper" and "why it differs" between

TABLE_BOOLEANS = """() => [...document.querySelectorAll('main article td')].map(c => c.innerText.trim()).filter(t => t === 'True' || t === 'False')"""

TEXT_OUTSIDE_CODE = """() => {
  const clone = document.querySelector('main').cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .cell_input').forEach(e => e.remove());
  return clone.innerText;
}"""


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail(f"{HTML}/index.html is missing: build the book first (make build-smoke)")
    handler = functools.partial(_Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install it (apt-get install chromium) or set $CHROMIUM")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@functools.lru_cache(maxsize=None)
def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@pytest.mark.parametrize("docname", _toc_pages())
def test_page_renders_for_a_reader(server, browser, docname):
    url = f"{server}/{docname}.html"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console_errors: list[str] = []
    failed: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    page.on("requestfailed", lambda req: failed.append(f"{req.url} ({req.failure})") if req.url.startswith(server) else None)
    page.on("response", lambda res: failed.append(f"{res.url} (HTTP {res.status})") if res.url.startswith(server) and res.status >= 400 else None)

    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    page.wait_for_load_state("networkidle")
    if page.evaluate("() => document.querySelector('.math') !== null"):
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
        page.evaluate("() => MathJax.startup.promise")
        untypeset = page.evaluate("() => [...document.querySelectorAll('main .math')]"
                                  ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80))")
        assert not untypeset, f"{docname}: math not typeset by MathJax: {untypeset[:3]}"
    text = page.evaluate(TEXT_OUTSIDE_CODE)
    raw = RAW_MATH.findall(text)
    assert not raw, f"{docname}: raw TeX left in the page: {raw[:5]}"
    leftovers = sorted({m.group(0) for m in PLACEHOLDERS.finditer(text)} | set(page.evaluate(TABLE_BOOLEANS)))
    assert not leftovers, f"{docname}: placeholders left in the page: {leftovers}"
    _check_layout(page, docname)

    images = page.evaluate("() => [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0 && i.naturalHeight > 0}))")
    broken = [img["src"] for img in images if not img["ok"]]
    assert not broken, f"{docname}: images that did not load: {broken}"

    links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    for link in sorted(set(links)):
        if not link.startswith(server):
            continue
        target, _, anchor = link.partition("#")
        status, body = _fetch(target)
        assert status == 200, f"{docname}: broken internal link {link} (HTTP {status})"
        if anchor and target.endswith(".html"):
            anchor = urllib.parse.unquote(anchor)
            assert f'id="{anchor}"' in body, f"{docname}: link {link} points to a missing anchor"

    if docname.endswith("claims"):
        failing = page.evaluate("() => [...document.querySelectorAll('main .claim-card.claim-fails')].map(c => c.innerText.slice(0, 80))")
        assert not failing, f"claims that did not hold: {failing}"
        cards = page.evaluate(CLAIM_CARDS)
        assert cards, "the claims page shows no claim"
        sources = tuple(lib.claims.SOURCE_LABELS.values())
        incomplete = [card["claim"][:60] for card in cards
                      if [name for name in card["fields"] if name in CARD_FIELDS] != list(CARD_FIELDS)
                      or any(card["fields"][name] in ("", "—") for name in CARD_FIELDS)
                      or not card["fields"]["source"].replace("’", "'").startswith(sources)]
        assert not incomplete, f"claims without a status, verdict, measured value, margin, criterion, hypotheses or source: {incomplete}"

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{docname.replace('/', '_')}.png"), full_page=True)
    # The layout again at 1920 px, where the theme's columns change (the text column does not grow): the same
    # page, resized, so the math is typeset once.
    page.set_viewport_size({"width": 1920, "height": 1000})
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")  # re-laid out
    _check_layout(page, docname)
    page.close()
    assert not failed, f"{docname}: failed requests to the local server: {failed}"
    assert not console_errors, f"{docname}: console errors: {console_errors}"


def _check_layout(page, docname: str) -> None:
    """Nothing wider than its column, and no number broken over two lines, at the page's current width."""
    width = page.viewport_size["width"]
    too_wide = page.evaluate(TOO_WIDE)
    assert not too_wide, f"{docname} at {width} px: wider than the column, outside a .wide-table box: {too_wide[:5]}"
    broken = page.evaluate(BROKEN_NUMBERS)
    assert not broken, f"{docname} at {width} px: numbers broken over two lines: {broken[:5]}"




def test_claims_page_reads_at_1280_px_without_scrolling_sideways(server, browser):
    """The claims page a reviewer reads: no horizontal scroll at 1280 px (nor at 1920), a section under its label
    for every chapter of the registry that records claims, each headed by the chapter's title linked to the chapter,
    and on every card the status first, then the verdict."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    assert page.goto(f"{server}/{lib.chapters.LEDGER}.html", wait_until="networkidle").status == 200
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    for width in (1280, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        overflow = page.evaluate(SIDEWAYS)
        assert not overflow, f"the claims page scrolls sideways at {width} px: {overflow[:5]}"
    for chapter in (c for c in lib.chapters.CHAPTERS if c.claims):
        label = lib.claims.section_label(chapter.doc)
        heading = page.evaluate(f"() => {{ const a = document.getElementById('{label}'); const h = a && a.closest('h1, h2, h3, h4');"
                                " const link = h && h.querySelector('a[href]');"
                                " return h && {text: h.innerText.trim(), href: link ? link.getAttribute('href') : ''}; }")
        assert heading, f"no anchor #{label} in a heading on the claims page"
        assert heading["text"] == chapter.title and heading["href"].split("#")[0].endswith(f"{chapter.name}.html"), heading
    labels = {*lib.claims.STATUS_LABELS.values()}, {*lib.claims.VERDICT_LABELS.values()}
    badges = [(card["claim"][:60], [b.replace("’", "'") for b in card["badges"]]) for card in page.evaluate(CLAIM_CARDS)]  # Sphinx's smart quotes
    disordered = [claim for claim, found in badges if len(found) < 2 or found[0] not in labels[0] or found[1] not in labels[1]]
    assert not disordered, f"cards whose first badges are not the status and the verdict: {disordered}"
    page.close()


# Elements of the article that make the page, or a box of it, scroll sideways: one that reaches past the article's
# right edge, or a scroll box (overflow auto or scroll, as the theme wraps every table) that has something to scroll.
SIDEWAYS = """() => {
  const found = [];
  if (document.documentElement.scrollWidth > window.innerWidth) found.push(`page ${document.documentElement.scrollWidth} px`);
  const article = document.querySelector('main article').getBoundingClientRect();
  for (const el of document.querySelectorAll('main article *')) {
    const box = el.getBoundingClientRect();
    const scrolls = ['auto', 'scroll'].includes(getComputedStyle(el).overflowX) && el.scrollWidth > el.clientWidth + 1;
    if (box.width && (box.right > article.right + 2 || scrolls) && !el.closest('mjx-container')) {
      found.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(box.right)} > ${Math.round(article.right)} px`);
    }
  }
  return found;
}"""
