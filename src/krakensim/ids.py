"""Kraken-format identifiers (``OQCLML-BW3P3-BUCMWZ``) from a seeded generator.

Kraken's ids are opaque 6-5-6 groups of base32 characters (``A-Z`` and ``2-7``: no ``0 1 8 9``
in any live capture) with a type letter first (O orders, T trades, L ledger entries). A seeded generator per letter makes the same
seed give the same ids whatever else happens, which the determinism tests rely on.
"""
from __future__ import annotations

import random
import string

ALPHABET = string.ascii_uppercase + "234567"  # base32, as every live Kraken id


class IdGenerator:
    """Ids of one reset generation; ``next_generation()`` after a reset never repeats an earlier id.

    Generation 0 keeps the historic streams (same seed, same first ids); later
    generations mix their number into the stream and remember every id issued in
    the simulator's lifetime, so a store kept across a reset cannot mistake a new
    order for an old one, while the same sequence of calls still gives the same ids.
    """

    def __init__(self, seed: int, generation: int = 0, issued: set[str] | None = None) -> None:
        self._seed = seed
        self.generation = generation
        self._rngs: dict[str, random.Random] = {}
        self._issued: set[str] = issued if issued is not None else set()

    def next_generation(self) -> "IdGenerator":
        return IdGenerator(self._seed, self.generation + 1, self._issued)

    def next(self, prefix: str) -> str:
        rng = self._rngs.get(prefix)
        if rng is None:
            stream = f"ids:{self._seed}:{prefix}" if self.generation == 0 else \
                f"ids:{self._seed}:{self.generation}:{prefix}"
            rng = self._rngs[prefix] = random.Random(stream)
        while True:
            c = "".join(rng.choices(ALPHABET, k=16))
            ident = f"{prefix}{c[:5]}-{c[5:10]}-{c[10:]}"
            if ident not in self._issued:
                self._issued.add(ident)
                return ident


def base32_number(n: int, width: int) -> str:
    """``n`` in Kraken's id alphabet, ``width`` characters (a counter that still looks like an id)."""
    out = []
    for _ in range(width):
        n, digit = divmod(n, 32)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))
