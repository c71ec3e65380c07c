"""The newsroom console: server-rendered pages under /console/ for editors, marketing
and admins (issue 16).

A face over the same services as the CLI and the API: people, sessions, roles and the
audit log come from `accounts`; briefs, sending, the audience and reports from their
own packages. Pages are Jinja with a local htmx and no inline script, so they run
under a strict Content-Security-Policy (`headers`).
"""
