"""Engine messages as the UI shows them: whole sentences."""

from __future__ import annotations

__all__ = ["sentence"]


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop (engine messages have neither)."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."
