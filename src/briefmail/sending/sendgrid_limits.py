"""Will one recipient's copy of a brief fit in a SendGrid personalization?

Every tracked link is a signed URL per recipient and travels as a SendGrid
substitution, so a brief with many links can break SendGrid's per-personalization
limits (100 substitutions; 10,000 bytes of substitutions and custom_args). SendGrid
would refuse every batch with a 400 after the send had started, so the size is
measured before anything is written: `briefmail preview` warns, and starting a
send through SendGrid refuses the brief.

The measure is the send path itself, not a formula: the brief's rendering, one
probe recipient whose values come from `tracking.links.recipient_values`, and the
personalization the SendGrid body builder writes for it. The probe is as large as a
real recipient can be: every id at `PROBE_ID` (a token's varints and the decimal
custom_args grow with the id), the longest reason line (every topic of the brief,
or "all topics"), the longest stored name. So a brief that fits the probe fits
every recipient. The price is a margin: with today's small ids a copy is about ten
bytes per link smaller than the probe, which matters only where the byte limit
binds before the substitution count (public URLs over about 50 characters).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from briefmail.errors import InvalidInputError
from briefmail.render import personalise as p
from briefmail.render.model import RenderedEmail
from briefmail.render.reason import ALL_TOPICS, topics_phrase
from briefmail.sending.backends.base import OutgoingBatch, OutgoingContent, OutgoingRecipient
from briefmail.sending.backends.sendgrid import (
    MAX_PERSONALIZATION_BYTES,
    MAX_SUBSTITUTIONS,
    PersonalizationSize,
    SendGridBackend,
    personalization,
)
from briefmail.sending.options import SendOptions
from briefmail.tracking.links import recipient_values

# Decades of a weekly newsletter's sends, batches, subscribers and deliveries; a larger
# id only costs a byte or two, and the per-batch check in `build_body` still guards it.
PROBE_ID = 2**31 - 1
PROBE_NAME = "N" * 200  # the longest name a subscriber row holds
PROBE_ATTEMPT_KEY = uuid.UUID(int=0).hex  # as long as the ledger's uuid4().hex keys


@dataclass(frozen=True, slots=True)
class RecipientFit:
    """How much of SendGrid's per-recipient room the largest possible copy takes."""

    links: int  # links a reader can click (the hidden honeypot is not counted)
    size: PersonalizationSize
    excess_links: int  # the fewest links to remove so that it fits (0: it fits)

    @property
    def fits(self) -> bool:
        return not self.size.breaches()

    def usage(self) -> str:
        """E.g. "98 of 100 substitutions, 6,025 of 10,000 bytes" (for a summary line)."""
        return (
            f"{self.size.substitutions} of {MAX_SUBSTITUTIONS} substitutions, "
            f"{self.size.bytes:,} of {MAX_PERSONALIZATION_BYTES:,} bytes"
        )

    def problem(self) -> str:
        """What is over, as one clause; empty when it fits."""
        breaches = self.size.breaches()
        if not breaches:
            return ""
        return f"each recipient's copy needs {' and '.join(breaches)} for its {self.links} links"

    def remedy(self) -> str:
        return (
            f"remove at least {self.excess_links} links (sources, citations or links in the "
            "text) or split the brief"
        )


def applies_to(backend_name: str) -> bool:
    """Only SendGrid carries per-recipient values in a size-limited request."""
    return backend_name == SendGridBackend.name


def measure(
    rendered: RenderedEmail,
    topic_names: Sequence[str],
    *,
    keys: Sequence[bytes],
    public_url: str,
) -> RecipientFit:
    """The probe recipient's personalization, measured as SendGrid will."""
    values = recipient_values(
        keys=keys,
        public_url=public_url,
        send_id=PROBE_ID,
        link_ids=[link.link_id for link in rendered.links],
        subscriber_id=PROBE_ID,
        subscriber_secret="",
        name=PROBE_NAME,
        topics_text=_longest_reason(topic_names),
    )
    probe = OutgoingRecipient(PROBE_ID, PROBE_ID, "probe@example.org", PROBE_NAME, values, {})
    content = OutgoingContent(
        subject=rendered.subject, html=rendered.html, text=rendered.text, from_address=""
    )
    batch = OutgoingBatch(PROBE_ID, PROBE_ID, PROBE_ATTEMPT_KEY, content, [probe])
    one = personalization(batch, probe)
    size = PersonalizationSize.of(one)
    substitutions = one["substitutions"]
    # Each removable link frees its substitution and its key and value bytes.
    link_bytes = sorted(
        (
            len(tag.encode()) + len(substitutions[tag].encode())
            for link in rendered.links
            if link.kind != "honeypot"
            and (tag := p.placeholder(p.link_key(link.link_id))) in substitutions
        ),
        reverse=True,
    )
    return RecipientFit(
        links=sum(1 for link in rendered.links if link.kind != "honeypot"),
        size=size,
        excess_links=_excess(size, link_bytes),
    )


def _longest_reason(topic_names: Sequence[str]) -> str:
    """The longest reason line a reader can get: every topic, or "all topics" (a reader
    who follows everything); each travels as text and escaped HTML."""
    return max(
        (topics_phrase(list(topic_names)), ALL_TOPICS),
        key=lambda phrase: len(phrase.encode()) + len(html.escape(phrase).encode()),
    )


def _excess(size: PersonalizationSize, link_bytes: Sequence[int]) -> int:
    """Fewest links to drop (largest first) to get under both limits."""
    count = max(0, size.substitutions - MAX_SUBSTITUTIONS)
    over = size.bytes - MAX_PERSONALIZATION_BYTES
    dropped = 0
    while dropped < len(link_bytes) and (dropped < count or over > 0):
        over -= link_bytes[dropped]
        dropped += 1
    return dropped


def require_fit(
    slug: str, rendered: RenderedEmail, topic_names: Sequence[str], options: SendOptions
) -> None:
    """InvalidInputError naming the brief, its size and SendGrid's limit, unless it fits."""
    found = measure(rendered, topic_names, keys=options.keys, public_url=options.public_url)
    if not found.fits:
        raise InvalidInputError(
            f"brief {slug!r} cannot be sent through SendGrid: {found.problem()}; {found.remedy()}"
        )
