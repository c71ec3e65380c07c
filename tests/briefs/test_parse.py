"""Parsing the brief format: the example brief, defaults, and the body's sections."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from briefmail.briefs import fields
from briefmail.briefs.errors import BriefValidationError
from briefmail.briefs.parse import default_preheader, load_brief, parse_brief
from briefmail.briefs.slugs import is_slug, slugify, truncate_slug
from briefmail.render import personalise
from tests.briefs.variants import edited, example_text, line_of, write
from tests.conftest import EXAMPLE_BRIEF


def test_example_brief_parses_into_every_field() -> None:
    brief = load_brief(EXAMPLE_BRIEF)
    assert brief.series == "Clinician Learning Brief"
    assert brief.kicker == "Insights"
    assert brief.title == "Clinician-Educators Want Coaching Programs, Not More Lectures"
    assert brief.slug == "2024-01-08-clinician-educators-want-coaching-programs-not-more-lectures"
    assert [t.slug for t in brief.topics] == [
        "learning-design",
        "workflow-based-education",
        "accreditation-operations",
    ]
    assert next(t.name for t in brief.topics) == "Learning design"
    assert (brief.coverage.start, brief.coverage.end) == (date(2024, 1, 8), date(2024, 1, 14))
    assert brief.abstract.startswith("Clinician-educator support is moving")
    assert brief.preheader == brief.abstract  # short enough to be the preheader as is
    assert len(brief.takeaways) == 3
    assert [s.number for s in brief.sources] == [1, 2]
    assert brief.sources[0].segment == "1:35-3:36"
    assert brief.sources[1].url == "https://www.youtube.com/watch?v=ki-educator-question-34"
    assert brief.cta is not None
    assert brief.cta.label == "Request a demo"
    assert brief.path == str(EXAMPLE_BRIEF)
    assert brief.text == example_text()
    assert len(brief.content_hash) == 64


def test_body_is_split_into_sections_with_file_lines() -> None:
    brief = load_brief(EXAMPLE_BRIEF)
    text = example_text()
    headings = [s.heading for s in brief.sections]
    assert headings == [
        None,
        "Faculty development is becoming a program design problem",
        "What CME Providers Should Reconsider",
        "What changed this week",
    ]
    lead, design, reconsider, changed = brief.sections
    assert lead.line == line_of(text, "Clinician-educators are asking for faculty development")
    assert design.line == line_of(text, "## Faculty development is becoming")
    assert reconsider.markdown.startswith("- Audit faculty development products")
    assert changed.markdown.endswith("or just scheduling them.")
    assert "## " not in "".join(s.markdown for s in brief.sections)


def test_default_slug_is_coverage_start_and_title_cut_at_80(tmp_path: Path) -> None:
    long_title = "A " + "very long title word " * 10
    brief = parse_brief(
        edited(
            "title: Clinician-Educators Want Coaching Programs, Not More Lectures",
            f"title: {long_title}",
        ),
        "b.md",
    )
    assert brief.slug.startswith("2024-01-08-a-very-long-title-word")
    assert len(brief.slug) <= 80
    assert is_slug(brief.slug)
    assert not brief.slug.endswith("-")


def test_explicit_slug_and_preheader_win() -> None:
    text = edited("kicker: Insights\n", "kicker: Insights\nslug: my-brief\npreheader: Read me\n")
    brief = parse_brief(text, "b.md")
    assert brief.slug == "my-brief"
    assert brief.preheader == "Read me"


def test_long_abstract_gives_a_preheader_cut_at_a_word() -> None:
    abstract = "word " * 60
    preheader = default_preheader(abstract)
    assert len(preheader) <= 150
    assert preheader.endswith("word…")


def test_optional_fields_may_be_left_out() -> None:
    text = example_text()
    text = edited("kicker: Insights\n", "", text)
    text = edited('    segment: "1:35-3:36"\n', "", text)
    start = text.index("cta:")
    end = text.index("---", start)
    text = text[:start] + text[end:]
    brief = parse_brief(text, "b.md")
    assert brief.kicker is None
    assert brief.cta is None
    assert brief.sources[0].segment is None


def test_yaml_words_stay_words() -> None:
    # YAML 1.1 would turn these into booleans and numbers.
    text = edited("kind: Podcast", "kind: no")
    text = edited("outlet: Faculty Feed", "outlet: 2024", text)
    brief = parse_brief(text, "b.md")
    assert brief.sources[0].kind == "no"
    assert brief.sources[0].outlet == "2024"


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + example_text().replace("\n", "\r\n").encode("utf-8")
    brief = load_brief(write(tmp_path, data))
    assert brief.title.endswith("Not More Lectures")
    assert brief.sections[1].line == line_of(example_text(), "## Faculty development")


def test_several_problems_are_reported_together() -> None:
    text = edited("series: Clinician Learning Brief\n", "")
    text = edited("end: 2024-01-14", "end: 2024-01-01", text)
    with pytest.raises(BriefValidationError) as caught:
        parse_brief(text, "b.md")
    fields_named = [p.field for p in caught.value.problems]
    assert fields_named == ["series", "coverage.end"]
    assert str(caught.value).splitlines()[1].startswith(f"b.md:{line_of(text, 'end: 2024')}:")


def test_topics_may_not_repeat() -> None:
    text = edited(
        "  - Accreditation operations\n", "  - Accreditation operations\n  - learning DESIGN\n"
    )
    with pytest.raises(BriefValidationError, match=r"topics\[4\]: repeats topics\[1\]"):
        parse_brief(text, "b.md")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Learning design", "learning-design"),
        ("Workflow-based education", "workflow-based-education"),
        ("  Évaluation & Qualité  ", "evaluation-qualite"),
        ("CME/CE -- Outcomes!", "cme-ce-outcomes"),
        ("***", ""),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_truncate_slug_cuts_at_a_hyphen() -> None:
    assert truncate_slug("abc-def-ghi", 9) == "abc-def"
    assert truncate_slug("abcdefghij", 5) == "abcde"
    assert truncate_slug("short", 80) == "short"


def test_placeholder_prefix_matches_render() -> None:
    # briefs cannot import render (imports point down the flow), so it spells it out.
    assert fields.PLACEHOLDER_PREFIX == personalise.PREFIX


def test_front_matter_text_is_one_line_of_words() -> None:
    text = edited(
        "title: Clinician-Educators Want Coaching Programs, Not More Lectures",
        "title: |\n  Two lines\n  of   title",
    )
    brief = parse_brief(text, "b.md")
    assert brief.title == "Two lines of title"
    assert "\n" not in brief.abstract
