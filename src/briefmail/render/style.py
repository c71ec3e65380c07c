"""The look of the email, as values the templates and the Markdown renderer share.

Email clients drop most `<style>` rules (and mjml-python does not inline CSS), so
everything essential is an inline `style` attribute built from these values; the
`<style>` block only adds the dark-mode overrides clients that honour it can use.
"""

from __future__ import annotations

from types import MappingProxyType

FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"

COLORS = MappingProxyType(
    {
        "page": "#eef1f4",
        "card": "#ffffff",
        "text": "#1f2933",
        "muted": "#52606d",
        "faint": "#7b8794",
        "rule": "#dde3ea",
        "accent": "#0b5cad",
        "accent_dark": "#0a3d6e",
        "pill_bg": "#e3edf8",
        "pill_text": "#0a4a8a",
        "panel": "#f3f7fb",
        "reconsider": "#eaf3ec",
        "reconsider_rule": "#2f7d4f",
        "changed": "#fbf5e6",
        "changed_rule": "#b7791f",
        "cta_bg": "#0a3d6e",
        "cta_text": "#ffffff",
        "cta_button": "#ffffff",
        "cta_button_text": "#0a3d6e",
    }
)

# Inline styles for the Markdown renderer (Markdown inside an mj-text inherits its
# font, size and colour from the mj-text wrapper).
P = "margin:0 0 16px 0;"
UL = "margin:0 0 16px 0;padding:0 0 0 22px;"
LI = "margin:0 0 8px 0;"
H3 = "margin:8px 0 8px 0;font-size:17px;line-height:1.4;font-weight:700;"
A = f"color:{COLORS['accent']};text-decoration:underline;"
CODE = f"font-family:{MONO};font-size:14px;background:{COLORS['panel']};padding:1px 4px;"
PRE = (
    f"font-family:{MONO};font-size:13px;line-height:1.5;background:{COLORS['panel']};"
    "padding:12px;margin:0 0 16px 0;white-space:pre-wrap;word-break:break-word;"
)
BLOCKQUOTE = f"margin:0 0 16px 0;padding:0 0 0 14px;border-left:3px solid {COLORS['rule']};"
IMG = "display:block;max-width:100%;height:auto;border:0;margin:0 0 16px 0;"
HR = f"border:0;border-top:1px solid {COLORS['rule']};margin:16px 0;"
