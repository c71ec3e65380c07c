"""Property: whatever text a brief holds, the parser refuses it cleanly or rendering works.

Hostile strings (every control character, noncharacters, lone surrogates, line and
paragraph separators, bidi overrides, character references, MJML/Jinja/HTML syntax,
our placeholder prefix) go into every front matter field (as YAML escapes and typed
raw) and into the body. A brief the parser accepts must then render, fill and build
a complete message (the whole preview path, which is the send path's rendering)
without raising; one it refuses must say so as one clean line per problem. The same
holds for the settings that reach the email (the footer's postal address, the From
name): whatever the settings check accepts renders.
"""

from __future__ import annotations

import re
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from briefmail.briefs.errors import BriefValidationError
from briefmail.briefs.parse import parse_brief
from briefmail.characters import FORBIDDEN
from briefmail.config import Settings
from briefmail.preview.build import PreviewOptions, preview_brief

FIELDS = (
    "series",
    "kicker",
    "title",
    "abstract",
    "preheader",
    "takeaway",
    "topic",
    "source_kind",
    "source_title",
    "source_outlet",
    "source_segment",
    "source_summary",
    "cta_headline",
    "cta_body",
    "cta_label",
)
SNIPPETS = (
    *(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]),
    "\ud800",
    "\udfff",
    "\ufdd0",
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\U0010ffff",
    "\u2028",
    "\u2029",
    "\u202e",
    "\u200b",
    "\ufeff",
    "\ufffd",
    "\r\n",
    "&#12;",
    "&#13;",
    "&#x1b;",
    "&#0;",
    "&#xFFFE;",
    "&amp;",
    "&Tab;",
    "%%bm:",
    "%%bm:unsubscribe_url%%",
    "{{ x }}",
    "{% raw %}",
    "]]>",
    "<![CDATA[",
    "<!--",
    "-->",
    "<mj-text>",
    "</mjml>",
    "<script>alert(1)</script>",
    '"',
    "'",
    "\\",
    "`",
    "*",
    "_",
    "[x](source:1)",
    "## ",
    "# ",
    "- ",
    "> ",
    "    ",
    "---",
    "\U0001f600",
    "\u0301",
    "\u05d0",
)
PRINTABLE = st.characters(exclude_categories=["Cc", "Cs"])
# Mostly text the parser may accept (so rendering is reached), sometimes anything at all.
TEXT = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from([s for s in SNIPPETS if not FORBIDDEN.search(s)]),
            st.text(PRINTABLE, min_size=1, max_size=5),
        ),
        min_size=1,
        max_size=6,
    ).map("".join),
    st.lists(
        st.one_of(st.sampled_from(SNIPPETS), st.text(min_size=1, max_size=5)),
        min_size=1,
        max_size=6,
    ).map("".join),
)
SAFE = set(string.ascii_letters + string.digits + " .,:;!?()-")


def yaml_quoted(value: str) -> str:
    """A YAML double-quoted scalar holding exactly `value`, whatever it contains."""
    return '"' + "".join(c if c in SAFE else f"\\U{ord(c):08x}" for c in value) + '"'


def brief_text(values: dict[str, str], raw: set[str], body: str) -> str:
    def v(name: str) -> str:
        value = values.get(name, name.replace("_", " ").title())
        return value if name in raw else yaml_quoted(value)

    return f"""---
series: {v("series")}
kicker: {v("kicker")}
title: {v("title")}
topics:
  - {v("topic")}
coverage:
  start: 2024-01-08
  end: 2024-01-14
abstract: {v("abstract")}
preheader: {v("preheader")}
takeaways:
  - {v("takeaway")}
sources:
  - kind: {v("source_kind")}
    title: {v("source_title")}
    outlet: {v("source_outlet")}
    segment: {v("source_segment")}
    summary: {v("source_summary")}
    url: https://journal.example.org/a
cta:
  headline: {v("cta_headline")}
  body: {v("cta_body")}
  label: {v("cta_label")}
  url: https://demo.example.org/
---

{body}

## Evidence

It agrees ([the journal](source:1)).
"""


OPTIONS = PreviewOptions(
    public_url="https://brief.example.org",
    signing_keys=(b"test-secret-key-0123456789",),
    from_address="Clinician Learning Brief <brief@example.org>",
    postal_address="100 Example Street",
    unsubscribe_mailto="unsubscribe@example.org",
)
ESCAPED_OUTPUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def refused_cleanly(error: BriefValidationError) -> None:
    lines = str(error).split("\n")
    assert len(lines) == len(error.problems)
    for line in lines:
        assert re.match(r"brief\.md:\d+: [^:]+: ", line), line
        assert not ESCAPED_OUTPUT.search(line), line


def accepted_renders(text: str, options: PreviewOptions) -> None:
    try:
        brief = parse_brief(text, "brief.md")
    except BriefValidationError as error:
        refused_cleanly(error)
        return
    preview = preview_brief(brief, options)
    preview.message.as_bytes()
    preview.html.encode("utf-8")
    assert not FORBIDDEN.search(preview.rendered.subject + preview.text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.dictionaries(st.sampled_from(FIELDS), TEXT, max_size=4),
    raw=st.sets(st.sampled_from(FIELDS), max_size=2),
    body=TEXT,
)
def test_any_brief_the_parser_accepts_renders(
    values: dict[str, str], raw: set[str], body: str
) -> None:
    accepted_renders(brief_text(values, raw, body), OPTIONS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(postal_address=TEXT, from_name=TEXT)
def test_any_settings_the_check_accepts_render(postal_address: str, from_name: str) -> None:
    # The footer's postal address and the From name come from settings, not the brief.
    try:
        checked = Settings(postal_address=postal_address, from_address=f'"{from_name}" <a@b.org>')
    except ValueError:
        return
    options = PreviewOptions(
        public_url=OPTIONS.public_url,
        signing_keys=OPTIONS.signing_keys,
        from_address=checked.from_address,
        postal_address=checked.postal_address,
    )
    accepted_renders(brief_text({}, set(), "A plain body."), options)


def test_the_generator_reaches_rendering() -> None:
    # Guards the properties above: the unedited template is accepted and rendered.
    brief = parse_brief(brief_text({}, set(), "Lead."), "brief.md")
    assert preview_brief(brief, OPTIONS).message["Subject"] == "Title"
