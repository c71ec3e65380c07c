"""Brief -> Jinja2 -> MJML -> HTML, and a plain-text part written from the brief itself."""
