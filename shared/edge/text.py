"""Vietnamese text as stored (NFC) and as compared (folded: no diacritics, no case)."""

from __future__ import annotations

import unicodedata

_D = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str) -> str:
    """`Xã Vân Nham`, `xa van nham` and `XA VAN NHAM` all fold to `xa van nham`.

    Tone and vowel marks are combining characters after NFD and are dropped; `đ` has
    no decomposition and is mapped to `d` explicitly."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.casefold().split())


def nfc(text: str) -> str:
    """Text as stored: NFC, trimmed."""
    return unicodedata.normalize("NFC", text).strip()
