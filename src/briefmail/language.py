"""BCP 47 language tags, as `<html lang>` takes them (RFC 5646 syntax).

One rule for the setting (checked when a process starts) and for rendering (which
refuses a tag it is handed directly). The syntax is RFC 5646's, except that the primary
language subtag must have 2 or 3 letters: the 4- and 5-8-letter forms are reserved and
no language is registered under one, so `english` is refused rather than passed on.
Subtags are not looked up in the IANA registry; browsers and mail clients only need a
tag they can parse.
"""

from __future__ import annotations

import re

_ALNUM = "[a-z0-9]"
_LANGTAG = (
    r"[a-z]{2,3}(?:-[a-z]{3}){0,3}"  # language, extlang
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    rf"(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*"  # variants
    rf"(?:-[0-9a-wyz](?:-{_ALNUM}{{2,8}})+)*"  # extensions
    rf"(?:-x(?:-{_ALNUM}{{1,8}})+)?"  # private use
)
_GRANDFATHERED = (
    "en-gb-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|"
    "i-pwn|i-tao|i-tay|i-tsu|sgn-be-fr|sgn-be-nl|sgn-ch-de|art-lojban|cel-gaulish|no-bok|"
    "no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang"
)
LANGUAGE_TAG = re.compile(
    rf"{_LANGTAG}|x(?:-{_ALNUM}{{1,8}})+|{_GRANDFATHERED}", re.IGNORECASE | re.ASCII
)


def language_tag_problem(tag: str) -> str | None:
    """Why `tag` is not a BCP 47 language tag, with the likely fix; None when it is."""
    if LANGUAGE_TAG.fullmatch(tag):
        return None
    hint = ""
    fixed = tag.strip().replace("_", "-")
    if fixed != tag and LANGUAGE_TAG.fullmatch(fixed):
        hint = f": write {fixed!r}"
    return f"{tag!r} is not a BCP 47 language tag such as 'en' or 'en-US'{hint}"
