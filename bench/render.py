"""Render benchmark: parse, render and personalise the example brief.

Prints medians over many runs, the HTML size, and the per-recipient cost of filling
placeholders against the baseline of re-rendering the brief for every recipient
(measured in the same run). Run: `uv run python bench/render.py` (or `make bench`).
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from briefmail.briefs.parse import load_brief
from briefmail.render import personalise as p
from briefmail.render.email import mjml_source, prepare_email, render_email
from briefmail.render.mjml import to_html
from briefmail.render.reason import topics_phrase
from briefmail.tracking.links import recipient_values

ROOT = Path(__file__).resolve().parents[1]
BRIEF = ROOT / "examples" / "briefs" / "2024-01-08-clinician-educators.md"
POSTAL = "Clinician Learning Brief · 100 Example Street · Boston, MA 02110 · USA"
KEYS = [b"bench-signing-key-0123456789"]
PUBLIC = "https://brief.example.org"
FILL_RECIPIENTS = 5000
RERENDER_RECIPIENTS = 100


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm caches (Jinja templates, markdown-it) before timing
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def values_for(subscriber_id: int, link_ids: list[int]) -> dict[str, str]:
    return recipient_values(
        keys=KEYS,
        public_url=PUBLIC,
        send_id=42,
        link_ids=link_ids,
        subscriber_id=subscriber_id,
        subscriber_secret=f"secret-{subscriber_id}",
        name=f"Reader {subscriber_id}",
        topics_text=topics_phrase(["Learning design"]),
    )


def main() -> None:
    brief = load_brief(BRIEF)
    rendered = render_email(brief, postal_address=POSTAL, public_url=PUBLIC)
    link_ids = [link.link_id for link in rendered.links]

    parse_ms = median_ms(lambda: load_brief(BRIEF), 300)
    render_ms = median_ms(
        lambda: render_email(brief, postal_address=POSTAL, public_url=PUBLIC), 100
    )
    prepared = prepare_email(brief, lang="en", postal_address=POSTAL, public_url=PUBLIC)
    source = mjml_source(prepared)
    prepare_ms = median_ms(
        lambda: prepare_email(brief, lang="en", postal_address=POSTAL, public_url=PUBLIC), 100
    )
    jinja_ms = median_ms(lambda: mjml_source(prepared), 100)
    mjml_ms = median_ms(lambda: to_html(source), 100)

    html_t = p.Template.compile(rendered.html)
    text_t = p.Template.compile(rendered.text)
    compile_ms = median_ms(
        lambda: (p.Template.compile(rendered.html), p.Template.compile(rendered.text)), 300
    )
    fixed = values_for(1, link_ids)

    def fill_only() -> None:
        html_t.fill(fixed)
        text_t.fill(fixed)

    fill_ms = median_ms(fill_only, 2000)

    start = time.perf_counter()
    for subscriber_id in range(1, FILL_RECIPIENTS + 1):
        values = values_for(subscriber_id, link_ids)
        html_t.fill(values)
        text_t.fill(values)
    personalise_ms = (time.perf_counter() - start) * 1000 / FILL_RECIPIENTS

    start = time.perf_counter()
    for subscriber_id in range(1, RERENDER_RECIPIENTS + 1):
        again = render_email(brief, postal_address=POSTAL, public_url=PUBLIC)
        values = values_for(subscriber_id, link_ids)
        p.Template.compile(again.html).fill(values)
        p.Template.compile(again.text).fill(values)
    rerender_ms = (time.perf_counter() - start) * 1000 / RERENDER_RECIPIENTS

    html_bytes = len(rendered.html.encode("utf-8"))
    filled_bytes = len(html_t.fill(fixed).encode("utf-8"))
    text_bytes = len(rendered.text.encode("utf-8"))
    print(f"# bench/render.py — {BRIEF.name}")
    print(f"python {platform.python_version()} on {platform.machine()}, {_cpu()}")
    print()
    print("| step | median |")
    print("| --- | --- |")
    print(f"| parse (load_brief) | {parse_ms:.2f} ms |")
    print(f"| render_email (Jinja + MJML + text) | {render_ms:.2f} ms |")
    print(f"| — Markdown, links and text part | {prepare_ms:.2f} ms |")
    print(f"| — Jinja (MJML source) | {jinja_ms:.2f} ms |")
    print(f"| — mjml2html | {mjml_ms:.2f} ms |")
    print(f"| Template.compile (html + text, once per send) | {compile_ms:.3f} ms |")
    print(f"| fill html + text (one recipient, values ready) | {fill_ms * 1000:.1f} µs |")
    print()
    print("| per recipient | cost |")
    print("| --- | --- |")
    print(
        f"| personalise: sign tokens + fill ({FILL_RECIPIENTS} recipients) | "
        f"{personalise_ms * 1000:.1f} µs |"
    )
    print(
        f"| baseline: re-render + sign + fill ({RERENDER_RECIPIENTS} recipients) | "
        f"{rerender_ms * 1000:.1f} µs |"
    )
    print(f"| speed-up | {rerender_ms / personalise_ms:.0f}x |")
    print()
    print(
        f"HTML {html_bytes} bytes ({html_bytes / 1024:.1f} KB) with placeholders, "
        f"{filled_bytes} bytes ({filled_bytes / 1024:.1f} KB) filled; text {text_bytes} bytes; "
        f"Gmail clips at 102 KB."
    )


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
