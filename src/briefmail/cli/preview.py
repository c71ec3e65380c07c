"""`briefmail preview FILE`: see the email subscribers will get before anyone gets it."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from briefmail.cli import app
from briefmail.config import get_settings
from briefmail.preview.build import Preview, PreviewOptions, build_preview
from briefmail.preview.files import write_preview
from briefmail.preview.server import serve, size_label

console = Console(highlight=False)


def print_summary(preview: Preview) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("Brief", f"{preview.brief.slug} ({preview.brief.path})")
    table.add_row("Subject", preview.rendered.subject)
    table.add_row("Preheader", preview.rendered.preheader)
    table.add_row("HTML", size_label(preview.html_bytes))
    table.add_row("Text", size_label(preview.text_bytes))
    table.add_row("Links", str(preview.tracked_links))
    table.add_row("Per recipient", f"{preview.recipient_fit.usage()} (SendGrid's limits)")
    console.print(table, markup=False)
    if preview.warnings:
        console.print(f"\n[bold yellow]{len(preview.warnings)} warning(s)[/]")
        for warning in preview.warnings:
            console.print(f"  - {warning.code}: {warning.message}", markup=False, soft_wrap=True)
    else:
        console.print("\n[green]No warnings.[/]")


@app.command()
def preview(
    file: Path = typer.Argument(..., help="The brief (Markdown with YAML front matter)."),
    out: Path | None = typer.Option(
        None, "--out", help="Write email.html, email.txt and email.eml into this folder."
    ),
    serve_page: bool = typer.Option(
        False, "--serve", help="Run a local page that shows the email and reloads on save."
    ),
    port: int = typer.Option(
        8030, "--port", min=1, max=65535, help="Port for --serve (on 127.0.0.1)."
    ),
    open_browser: bool = typer.Option(False, "--open", help="Open the --serve page."),
) -> None:
    """Render a brief as a sample subscriber would get it; print a summary and warnings.

    With --out the email is written as files instead of the summary; with
    --serve a local page shows it at desktop and phone widths and reloads when
    the file is saved.
    """
    options = PreviewOptions.from_settings(get_settings())
    result = build_preview(file, options)
    if out is not None:
        for path in write_preview(result, out):
            console.print(f"wrote {path}", markup=False, soft_wrap=True)
    else:
        print_summary(result)
    if not serve_page:
        return

    def ready(url: str) -> None:
        console.print(f"Preview at {url} (Ctrl-C to stop)", markup=False, soft_wrap=True)
        if open_browser:
            webbrowser.open(url)

    serve(file, options, port=port, initial=result, on_ready=ready)
