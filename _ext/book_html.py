"""A small Sphinx extension for the book's HTML: each script once per page.

``sphinx_thebe`` registers its inline configuration script on every ``env-before-read-docs``
event, and in a Jupyter Book build that event fires twice, so each page declared
``const THEBE_JS_URL`` twice and the browser logged a SyntaxError.  We drop repeated script
entries before the page is rendered (early: a later handler of ``html-page-context`` returns a
value, which stops the event).
"""

from __future__ import annotations

from typing import Any


def _unique_scripts(app, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in context.get("script_files", []):
        key = (str(getattr(script, "filename", script) or ""), str(getattr(script, "attributes", {}).get("body", "")))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: it is the builder's own list


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _unique_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
