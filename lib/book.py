"""What every chapter does in its first code cell: read the knobs, seed the PRNG, set the theme.

    from lib.book import setup_chapter
    ch = setup_chapter()          # ch.scale, ch.seed, ch.key

``BOOK_SCALE`` (default 1) multiplies problem sizes: 1 runs a chapter in about a minute on a
2-core CPU, 8 or more is meant for a GPU. ``BOOK_SEED`` (default 0) changes every random draw of
the chapter; the check cells must pass for any seed.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import jax

from .plotting import set_theme

__all__ = ["Chapter", "setup_chapter"]


class Chapter(NamedTuple):
    scale: int
    seed: int
    key: jax.Array


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        val = int(raw)
    except ValueError as err:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from err
    if val < minimum:
        raise ValueError(f"environment variable {name} must be >= {minimum}, got {val}")
    return val


def setup_chapter(*, x64: bool = False) -> Chapter:
    """Read ``BOOK_SCALE`` and ``BOOK_SEED``, apply the figure theme, and return the base key.

    ``x64=True`` switches JAX to float64 for chapters whose checks need it.
    """
    if x64:
        jax.config.update("jax_enable_x64", True)
    scale = _env_int("BOOK_SCALE", 1, 1)
    seed = _env_int("BOOK_SEED", 0, 0)
    set_theme()
    return Chapter(scale, seed, jax.random.key(seed))
