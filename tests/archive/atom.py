"""Atom validation for the tests: RFC 4287 itself, not a reader's leniency.

Structure, cardinality and datatypes come from the RFC's own RELAX NG schema
(Appendix B, in atom.rnc), checked by libxml2 through lxml. The rules the RFC states
in prose, or as Schematron assertions that lxml's RELAX NG ignores, are checked here,
each next to its section.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import rnc2rng
from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
NS = {"a": ATOM}
SCHEMA = Path(__file__).with_name("atom.rnc")
# RFC 3339 section 5.6 date-time (xsd:dateTime also takes a time without a zone).
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


@lru_cache(maxsize=1)
def schema() -> etree.RelaxNG:
    rng = rnc2rng.dumps(rnc2rng.loads(SCHEMA.read_text(encoding="utf-8")))
    # rnc2rng declares the schema's `local` prefix as xmlns:local="", which XML
    # namespaces forbid; the empty namespace it stands for is written out as ns="".
    return etree.RelaxNG(etree.fromstring(rng.replace('xmlns:local=""', "").encode()))


def atom_problems(document: bytes) -> list[str]:
    """Everything RFC 4287 says is wrong with `document` (empty: a valid Atom feed)."""
    try:
        root = etree.fromstring(document)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    validator = schema()
    problems = [] if validator.validate(root) else [str(e) for e in validator.error_log]
    if root.tag != f"{{{ATOM}}}feed":
        return [*problems, f"root is {root.tag}, not an Atom feed"]
    entries = root.findall("a:entry", NS)
    # 4.1.1: a feed has an author unless every one of its entries has one.
    if root.find("a:author", NS) is None and any(e.find("a:author", NS) is None for e in entries):
        problems.append("4.1.1: neither the feed nor every entry has an atom:author")
    # 4.1.1: a feed SHOULD have a self link.
    if not root.xpath("a:link[@rel='self']", namespaces=NS):
        problems.append("4.1.1: the feed has no rel='self' link")
    for element in [root, *entries]:
        # 4.1.1, 4.1.2: at most one alternate link per (type, hreflang).
        alternates = Counter(
            (link.get("type"), link.get("hreflang"))
            for link in element.findall("a:link", NS)
            if link.get("rel", "alternate") == "alternate"
        )
        if any(count > 1 for count in alternates.values()):
            problems.append(f"4.1: {element.tag} has two alternate links of one type")
        # 4.2.6: atom:id is an absolute IRI.
        for ident in element.findall("a:id", NS):
            if not urlsplit(ident.text or "").scheme:
                problems.append(f"4.2.6: id {ident.text!r} is not an absolute IRI")
    for entry in entries:
        # 4.1.2: an entry without content has an alternate link.
        if entry.find("a:content", NS) is None and not entry.xpath(
            "a:link[@rel='alternate' or not(@rel)]", namespaces=NS
        ):
            problems.append("4.1.2: an entry has neither content nor an alternate link")
    # 3.3: dates are RFC 3339 date-times.
    for date in root.iter(f"{{{ATOM}}}updated", f"{{{ATOM}}}published"):
        if not RFC3339.fullmatch(date.text or ""):
            problems.append(f"3.3: {date.text!r} is not an RFC 3339 date-time")
    return problems
