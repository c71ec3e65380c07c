"""The public web app: click redirects, subscriber pages and provider webhooks.

`briefmail.web.app.create_app` builds it; `briefmail web` serves it with uvicorn.
Page templates live in `web/templates/` (Jinja2, autoescaped), beside the code.
"""
