"""Vietnamese text folded for search and stored as NFC: the edge's one definition."""

from __future__ import annotations

from shared.edge.text import fold, nfc

__all__ = ["fold", "nfc"]
