"""People, console sessions, API tokens and the audit log.

Below every face (`cli`, `web`, `api`, `console`), so each signs people in, checks
roles and scopes, and writes the audit log the same way. It imports only `db`,
`config`, `clock` and `errors`.
"""
