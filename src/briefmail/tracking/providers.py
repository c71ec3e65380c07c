"""The webhook providers by name: a new provider is an entry here, not a branch in web/."""

from __future__ import annotations

from collections.abc import Mapping

from briefmail.tracking import sendgrid_events
from briefmail.tracking.events import WebhookProvider

PROVIDERS: Mapping[str, WebhookProvider] = {
    "sendgrid": WebhookProvider(
        load_key=sendgrid_events.load_public_key,
        check_headers=sendgrid_events.check_headers,
        verify=sendgrid_events.verify_request,
        parse=sendgrid_events.parse_sendgrid,
    ),
}
