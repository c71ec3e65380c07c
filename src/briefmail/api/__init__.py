"""The REST API under /api/v1: a FastAPI sub-application over the same services as the
CLI, with scoped bearer tokens (`briefmail.accounts.tokens`) and an OpenAPI 3.1
document generated from the very models the CLI prints with `--json`."""
