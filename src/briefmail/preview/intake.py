"""Taking in a parsed brief file, from a path (`brief import`) or a body (the API):
store it, and say what `briefmail preview` would warn about.

A bad file never gets here: parsing raises BriefValidationError with every problem,
and nothing is stored.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from briefmail.briefs.model import Brief
from briefmail.briefs.store import store_brief
from briefmail.briefs.views import BriefStored, WarningOut
from briefmail.preview.build import PreviewOptions, preview_brief


def take_in(session: Session, brief: Brief, options: PreviewOptions) -> BriefStored:
    """Store a parsed brief and report its warnings (rendered as subscribers get it)."""
    found = preview_brief(brief, options).warnings
    warnings = [WarningOut(code=w.code, message=w.message) for w in found]
    result = store_brief(session, brief)
    row = result.brief
    return BriefStored(
        slug=row.slug,
        title=row.title,
        status=row.status,
        outcome=result.outcome,
        warnings=warnings,
    )
