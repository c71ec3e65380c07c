"""`/preferences/TOKEN`: choose topics, all topics, or leave.

One page, two forms (save choices; unsubscribe), both bound to the signed token by a
MAC and refused from other origins. A successful save redirects back to the page
(post/redirect/get), which then says it was saved, so reloading never re-posts.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from briefmail.errors import InvalidInputError
from briefmail.tracking.tokens import Purpose
from briefmail.web import subscriptions
from briefmail.web.context import WebContext, context
from briefmail.web.forms import check_form_mac, form_mac, read_form, same_origin
from briefmail.web.subscriptions import Reader

FORM = "preferences"


async def preferences(request: Request) -> Response:
    ctx = context(request)
    token: str = request.path_params["token"]
    reader = await ctx.db(subscriptions.reader_from_token, ctx.keys, token, Purpose.PREFERENCES)
    if reader is None:
        return ctx.pages.not_found()
    if request.method in ("GET", "HEAD"):
        saved = request.query_params.get("saved") == "1"
        return await _page(ctx, token, reader, saved=saved)
    form = await read_form(request)
    if form is None:
        return ctx.pages.error(400, "Something went wrong", "The form could not be read.")
    if not check_form_mac(ctx.keys, FORM, token, str(form.get("form_mac", ""))) or not (
        same_origin(request, ctx.settings.public_url)
    ):
        return ctx.pages.error(
            403, "Please try again", "This form could not be accepted. Open the link again."
        )
    action = form.get("action")
    if action == "unsubscribe":
        await ctx.db(subscriptions.unsubscribe, reader.id, reader.send_id)
        return ctx.pages.render("unsubscribed.html", title="Unsubscribed", email=reader.email)
    if action != "save":
        return ctx.pages.error(400, "Something went wrong", "The form could not be read.")
    mode = form.get("mode")
    chosen = [str(v) for v in form.getlist("topics")]
    if mode == "all":
        chosen = []
    elif mode != "some" or not chosen:
        error = "Choose at least one topic, or choose all topics."
        return await _page(ctx, token, reader, error=error, picked=chosen, status=400)
    try:
        await ctx.db(subscriptions.save_topics, reader.id, chosen)
    except InvalidInputError:
        error = "One of those topics no longer exists. Please choose again."
        return await _page(ctx, token, reader, error=error, status=400)
    return RedirectResponse(f"/preferences/{token}?saved=1", status_code=303)


async def _page(
    ctx: WebContext,
    token: str,
    reader: Reader,
    *,
    saved: bool = False,
    error: str | None = None,
    picked: list[str] | None = None,
    status: int = 200,
) -> Response:
    topics = await ctx.db(subscriptions.all_topics)
    chosen = set(picked if picked is not None else reader.topics)
    every = picked is None and not reader.topics
    return ctx.pages.render(
        "preferences.html",
        status,
        title="Your email preferences",
        email=reader.email,
        subscriber_status=reader.status,
        topics=topics,
        chosen=chosen,
        every=every,
        saved=saved,
        error=error,
        form_mac=form_mac(ctx.keys, FORM, token),
    )
