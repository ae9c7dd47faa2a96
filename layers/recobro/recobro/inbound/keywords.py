"""The keywords a debtor may reply with, recognised whatever the case, accents or punctuation.

The whole message is the keyword ("Baja", " STOP. ", "¡Ayuda!", "sáldo"): a sentence that merely
contains one ("no puedo pagar, ayuda") is a message for the merchant, not a command.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

Intent = Literal["opt_out", "balance", "help", "other"]

KEYWORDS: dict[str, Intent] = {
    "stop": "opt_out",
    "baja": "opt_out",
    "parar": "opt_out",
    "sair": "opt_out",
    "saldo": "balance",
    "balance": "balance",
    "ayuda": "help",
    "help": "help",
    "ajuda": "help",
}


def normalise(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces, trimmed."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    spaced = "".join(c if c.isalnum() else " " for c in letters)
    return " ".join(spaced.split())


def intent_of(text: str) -> Intent:
    return KEYWORDS.get(normalise(text), "other")
