"""Wrap a small hand-written template as a rendered stack, for unit probes of one document rule.

Probes exercise what no blueprint renders (an unpriced type, a region without
prices, a reference that may or may not exist). The DR pair's documents are
tested on the real renders (tests/docs/test_runbook_dr.py), never on probes.
"""

from __future__ import annotations

from streamflix.render import RenderedStack, load_template


def probe_stack(blueprint: str, region: str, text: str) -> RenderedStack:
    return RenderedStack(blueprint, region, f"{blueprint}.yaml", text, len(load_template(text)["Resources"]))
