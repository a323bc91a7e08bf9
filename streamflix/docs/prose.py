"""Runbook chapters whose prose is a template file, apart from the facts it states.

A chapter's text lives in ``streamflix/docs/chapters/<name>.md.j2`` (Jinja2,
Markdown out), so an operator can edit it as text; the Python that builds the
chapter computes only the facts (regions, figures, names read from the rendered
templates and the config) and passes them in. Undefined facts are an error, never
an empty string. The runbook command checks run over the rendered result like
over every other chapter.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("streamflix.docs", "chapters"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_chapter(name: str, **facts: Any) -> str:
    """The text of chapter ``name`` with ``facts`` filled in (leading and trailing blank lines removed)."""
    return _environment().get_template(f"{name}.md.j2").render(**facts).strip()
