"""Form safety: which posts to accept.

The signed token in a page's URL is the capability: nobody without the email can name
the subscriber. On top of it, every form we render carries a MAC of that token and
the form's name, and a post is refused when its Origin (or, lacking one, Referer)
names another site, so a page elsewhere cannot make a reader's browser submit our
forms. Bodies are small and parsed with hard limits on size, fields and values.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

FORM_BODY_LIMIT = 16 * 1024
_MAX_FIELDS = 200
_MAX_VALUE = 1000


def form_mac(keys: Sequence[bytes], form: str, token: str) -> str:
    """The hidden field proving this form was rendered by us for this token."""
    return _mac(keys[0], form, token)


def check_form_mac(keys: Sequence[bytes], form: str, token: str, given: str) -> bool:
    # Compared as bytes: compare_digest raises on non-ASCII str, which a post may carry.
    raw = given.encode("utf-8", "surrogateescape")
    return any(hmac.compare_digest(_mac(key, form, token).encode(), raw) for key in keys)


def _mac(key: bytes, form: str, token: str) -> str:
    message = b"form\x00" + form.encode() + b"\x00" + token.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def same_origin(request: Request, public_url: str) -> bool:
    """False if the browser says the post came from another site.

    Browsers send Origin on form posts; when it is missing (older browsers, some
    privacy settings) the Referer is checked instead; when both are missing the form
    MAC alone decides.
    """
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if not referer:
            return True
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin == "null":
        return False
    return origin.lower() in _allowed_origins(request, public_url)


def _allowed_origins(request: Request, public_url: str) -> set[str]:
    public = urlsplit(public_url)
    allowed = {f"{public.scheme}://{public.netloc}".lower()}
    host = request.headers.get("host")
    if host:
        allowed.add(f"{request.url.scheme}://{host}".lower())
    return allowed


async def read_form(request: Request) -> FormData | None:
    """The posted form, or None if it is not a well-formed, small urlencoded/multipart form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None
    try:
        form = await request.form(max_files=0, max_fields=_MAX_FIELDS, max_part_size=_MAX_VALUE)
    except HTTPException as exc:
        if exc.status_code == 413:
            raise  # the body limit answers for itself
        return None  # malformed multipart, too many fields, a value too long
    except ValueError:  # undecodable urlencoded bytes
        return None
    for value in form.values():
        if not isinstance(value, str) or len(value) > _MAX_VALUE:
            return None
    return form
