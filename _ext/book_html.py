"""A small Sphinx extension for the book's HTML.

* **Each script once per page.**  ``sphinx_thebe`` registers its inline configuration script on every
  ``env-before-read-docs`` event, and in a Jupyter Book build that event fires twice, so each page
  declared ``const THEBE_JS_URL`` twice and the browser logged a SyntaxError.  We drop repeated
  script entries before the page is rendered (early: a later handler of ``html-page-context``
  returns a value, which stops the event).
* **Launch and repository buttons only with a real repository.**  The repository URL has one
  setting, ``repository.url`` in ``_config.yml``; the environment variable ``BOOK_REPOSITORY_URL``
  overrides it for one build.  When neither is set the page shows no Binder, Colab or repository
  button rather than buttons that lead nowhere.
* **The scale of the build** as the substitution ``{{ book_scale }}`` (``lib.scale.current()``), so
  the introduction can say which sizes the HTML shows.
* **Execution that fails fast.**  The per-cell time-out of the scale (``lib.scale.cell_timeout``), and a
  chapter that fails stops the build (``nb_execution_raise_on_error``) instead of rendering a page
  without its outputs.  ``make book`` and ``make test`` execute the chapters before the build (into the
  cache it reads), so the build itself executes nothing; this is the net under a build run by hand.
* **The intro's map, generated** from the chapter registry (``lib.chapters``) by the directive
  ``chapter-map``, so it lists every chapter and cannot go stale; and its "what we found" by the
  directive ``findings``, from the claims ledger of the same build.
* **The book's CSS and script** (``_static/``: scrollable wide tables with a hint where they overflow,
  numbers that do not wrap).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sphinx.util.docutils import SphinxDirective

LAUNCH_KEYS = ("binderhub_url", "jupyterhub_url", "colab_url", "thebe", "jupyterlite_url")
STATIC = Path(__file__).resolve().parents[1] / "_static"


def repository_url(theme_options: dict[str, Any]) -> str:
    """The book's repository URL: ``$BOOK_REPOSITORY_URL`` if set, else ``repository.url`` of ``_config.yml``."""
    return (os.environ.get("BOOK_REPOSITORY_URL") or theme_options.get("repository_url") or "").strip()


def _configure(app, config) -> None:
    options = dict(config.html_theme_options)
    url = repository_url(options)
    if url:
        options.update(repository_url=url, use_repository_button=True)
    else:
        options.pop("repository_url", None)
        options["use_repository_button"] = False
        options["launch_buttons"] = {k: v for k, v in options.get("launch_buttons", {}).items() if k not in LAUNCH_KEYS}
    config.html_theme_options = options

    import lib.scale

    config.myst_substitutions = {**config.myst_substitutions, "book_scale": lib.scale.current().name}
    config.nb_execution_timeout = lib.scale.cell_timeout()
    config.nb_execution_raise_on_error = True
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _unique_scripts(app, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in context.get("script_files", []):
        key = (str(getattr(script, "filename", script) or ""), str(getattr(script, "attributes", {}).get("body", "")))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: it is the builder's own list


class ChapterMap(SphinxDirective):
    """``{chapter-map}``: the table "chapter | what it reproduces | paper" of every chapter in ``lib.chapters``."""

    has_content = False

    def run(self) -> list:
        import lib.chapters

        here = self.env.docname.rsplit("/", 1)[0]
        lines = ["| chapter | what it reproduces | paper |", "| --- | --- | --- |"]
        for doc, what, paper in lib.chapters.map_rows():
            target = doc[len(here) + 1:] if doc.startswith(here + "/") else f"/{doc}"
            lines.append(f"| {{doc}}`{target}` | {what} | {paper} |")
        return self.parse_text_to_nodes("\n".join(lines))


class Findings(SphinxDirective):
    """``{findings}``: the intro's "what we found", from the claims ledger this build recorded (``lib.claims.markdown_findings``)."""

    has_content = False

    def run(self) -> list:
        import lib.claims
        import lib.scale

        scale = lib.scale.current().name
        return self.parse_text_to_nodes(lib.claims.markdown_findings([c for c in lib.claims.load() if c.scale == scale]))


def setup(app) -> dict[str, Any]:
    app.add_directive("chapter-map", ChapterMap)
    app.add_directive("findings", Findings)
    app.connect("config-inited", _configure)
    app.connect("html-page-context", _unique_scripts, priority=100)
    app.add_css_file("book.css")
    app.add_js_file("book.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
