"""Kraken-format identifiers (``OQCLML-BW3P3-BUCMWZ``) from a seeded generator.

Kraken's ids are opaque 6-5-6 upper-case alphanumerics with a type letter first (O
orders, T trades, L ledger entries). A seeded generator per letter makes the same
seed give the same ids whatever else happens, which the determinism tests rely on.
"""
from __future__ import annotations

import random
import string

_ALPHABET = string.ascii_uppercase + string.digits


class IdGenerator:
    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rngs: dict[str, random.Random] = {}
        self._issued: set[str] = set()

    def next(self, prefix: str) -> str:
        rng = self._rngs.get(prefix)
        if rng is None:
            rng = self._rngs[prefix] = random.Random(f"ids:{self._seed}:{prefix}")
        while True:
            c = "".join(rng.choices(_ALPHABET, k=16))
            ident = f"{prefix}{c[:5]}-{c[5:10]}-{c[10:]}"
            if ident not in self._issued:
                self._issued.add(ident)
                return ident
