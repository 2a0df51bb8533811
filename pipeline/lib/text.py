"""Which characters text shown to people may hold: one rule for names, labels, ids and file names.

Model names and descriptions (``artifacts.naming``), API token names (``accounts.models``), the
cluster's file names (``artifacts.cluster``) and the job ids in its webhook
(``artifacts.api.webhooks``) all end up on a page, in a notification or in a terminal, so all
refuse the characters that would hide, reorder or break what is displayed:

- every character of Unicode category C: controls (Cc: NUL, escape, DEL, the C1 controls such
  as U+0085), format characters (Cf: the bidirectional overrides and isolates of "Trojan Source",
  CVE-2021-42574, zero-width spaces, the byte-order mark, the soft hyphen, tag characters),
  surrogates (Cs), private-use characters (Co, drawn differently by every font, or not at all)
  and unassigned code points (Cn, which a later Unicode version may make any of these);
- the line and paragraph separators U+2028 and U+2029 (Zl, Zp), which break a line as a newline
  does.

One exception: ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER (U+200C, U+200D) between two visible
characters. Persian and the Indic scripts need them inside words, and emoji such as 👩‍💻 are
built with them. Anywhere else (at either end of the text, beside a space or beside another
invisible character) they show nothing and are refused like the other format characters, so a
text made only of invisible characters never passes.

A second rule, :func:`has_visible`: text shown as a name must draw something. Whitespace does not,
nor do the characters above, nor a combining mark with nothing to sit on, nor the few letters and
symbols that are drawn as blanks (the Hangul fillers, U+3164 among them, and the blank braille
pattern U+2800) and so are the usual way to make an "empty" name that passes a whitespace check.
They are fine inside text; text made only of them shows nothing.

Callers name what they allow besides (a description allows newline and tab) and word their own
messages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

JOINERS = frozenset("\u200c\u200d")
LINE_SEPARATORS = frozenset("\u2028\u2029")
# Letters and symbols every font draws as empty space.
BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _hidden(char: str) -> bool:
    return char in LINE_SEPARATORS or unicodedata.category(char).startswith("C")


def _visible(char: str) -> bool:
    return not char.isspace() and not _hidden(char)


def unprintable_positions(text: str, allowed: str = "") -> Iterator[int]:
    """The index of every character of ``text`` the rule refuses, in order; ``allowed`` are let through."""
    last = len(text) - 1
    for index, char in enumerate(text):
        if char in allowed:
            continue
        if char in JOINERS:
            if 0 < index < last and _visible(text[index - 1]) and _visible(text[index + 1]):
                continue
            yield index
        elif _hidden(char):
            yield index


def first_unprintable(text: str, allowed: str = "") -> str | None:
    """The first character of ``text`` the rule refuses, or None when every character may be shown."""
    index = next(unprintable_positions(text, allowed), None)
    return None if index is None else text[index]


def without_unprintable(text: str, allowed: str = "") -> str:
    """``text`` with every character the rule refuses left out."""
    dropped = set(unprintable_positions(text, allowed))
    return "".join(char for index, char in enumerate(text) if index not in dropped) if dropped else text


def _draws(char: str) -> bool:
    """A letter, number, punctuation mark or symbol that puts ink on the page."""
    return unicodedata.category(char)[0] in "LNPS" and char not in BLANK_GLYPHS


def has_visible(text: str) -> bool:
    """Whether ``text`` draws anything: False for empty text and for text made only of whitespace,
    invisible characters, lone combining marks and blank glyphs."""
    return any(_draws(char) for char in text)


def first_invisible(text: str) -> str | None:
    """The first character of ``text`` that is neither whitespace nor drawn (for messages naming it)."""
    return next((char for char in text if not char.isspace() and not _draws(char)), None)
