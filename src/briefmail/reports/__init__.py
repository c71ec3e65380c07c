"""Reports: the figures of a brief (`figures`), as JSON (`views`) or a
self-contained HTML page with inline SVG charts (`html_report`, `charts`)."""
