"""Hypothesis strategies shared by the SIP core's property tests."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str], chars: st.SearchStrategy[str]) -> str:
    """A value from ``base`` with one to four characters inserted, deleted, replaced or runs duplicated."""
    text = draw(base)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        if action == "insert":
            text = text[:pos] + draw(chars) + text[pos:]
        elif action == "delete":
            text = text[:pos] + text[pos + 1 :]
        elif action == "replace":
            text = text[:pos] + draw(chars) + text[pos + 1 :]
        else:
            text = text[:pos] + text[pos : pos + 5] + text[pos:]
    return text
