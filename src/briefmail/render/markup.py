"""Markdown sections -> inline-styled HTML and wrapped plain text, from one tree.

Both writers walk the same markdown-it syntax tree, and link ids are assigned on
that tree before either runs, so link N is the same destination in the HTML part,
the text part and `RenderedEmail.links`. The archive's web copy takes the same HTML
without the inline styles (`inline_styles=False`): a page under a Content-Security-
Policy gets its look from a stylesheet, and style attributes would need
'unsafe-inline'.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from html import escape
from typing import Any

from markdown_it.tree import SyntaxTreeNode

from briefmail.briefs.body import citation_number, markdown
from briefmail.render import style
from briefmail.render.personalise import link_key, placeholder

LINK_ID = "briefmail_link_id"
TEXT_WIDTH = 78


def parse(source: str) -> SyntaxTreeNode:
    return SyntaxTreeNode(markdown().parse(source))


def links_in(tree: SyntaxTreeNode) -> list[SyntaxTreeNode]:
    """Link nodes in document order."""
    found: list[SyntaxTreeNode] = []
    for node in tree.walk():
        if node.type == "link":
            found.append(node)
    return found


def _link_meta(node: SyntaxTreeNode) -> dict[Any, Any]:
    if node.nester_tokens is None:
        raise ValueError(f"{node.type} node is not a link")
    return node.nester_tokens.opening.meta


def set_link_id(node: SyntaxTreeNode, link_id: int) -> None:
    _link_meta(node)[LINK_ID] = link_id


def get_link_id(node: SyntaxTreeNode) -> int:
    return int(_link_meta(node)[LINK_ID])


def plain(node: SyntaxTreeNode) -> str:
    """The text a node shows, without markup (link labels, headings)."""
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    if node.type == "image":
        return node.content
    return "".join(plain(child) for child in node.children)


def href(link_id: int) -> str:
    return placeholder(link_key(link_id))


# -- HTML --------------------------------------------------------------------------------


def html(tree: SyntaxTreeNode, *, inline_styles: bool = True) -> str:
    return "".join(_html_block(child, inline_styles) for child in tree.children)


_HTML_TAGS: dict[str, tuple[str, str]] = {
    "bullet_list": ("ul", style.UL),
    "ordered_list": ("ol", style.UL),
    "list_item": ("li", style.LI),
    "blockquote": ("blockquote", style.BLOCKQUOTE),
}


def _style(css: str, inline_styles: bool) -> str:
    return f' style="{css}"' if inline_styles else ""


def _html_block(node: SyntaxTreeNode, styled: bool) -> str:
    kind = node.type
    if kind == "paragraph":
        inner = "".join(_html_block(child, styled) for child in node.children)
        return inner if node.hidden else f"<p{_style(style.P, styled)}>{inner}</p>"
    if kind == "inline":
        return "".join(_html_inline(child, styled) for child in node.children)
    if kind in _HTML_TAGS:
        tag, css = _HTML_TAGS[kind]
        start = node.attrs.get("start") if kind == "ordered_list" else None
        start_attr = f' start="{int(start)}"' if start is not None else ""
        inner = "".join(_html_block(child, styled) for child in node.children)
        return f"<{tag}{start_attr}{_style(css, styled)}>{inner}</{tag}>"
    if kind == "heading":
        inner = "".join(_html_block(child, styled) for child in node.children)
        return f"<{node.tag}{_style(style.H3, styled)}>{inner}</{node.tag}>"
    if kind in ("code_block", "fence"):
        return f"<pre{_style(style.PRE, styled)}>{escape(node.content)}</pre>"
    if kind == "hr":
        return f"<hr{_style(style.HR, styled)} />"
    return escape(node.content)


def _html_inline(node: SyntaxTreeNode, styled: bool) -> str:
    kind = node.type
    inner: Callable[[], str] = lambda: "".join(_html_inline(c, styled) for c in node.children)  # noqa: E731
    if kind == "text":
        return escape(node.content)
    if kind == "softbreak":
        return "\n"
    if kind == "hardbreak":
        return "<br />"
    if kind == "em":
        return f"<em>{inner()}</em>"
    if kind == "strong":
        return f"<strong>{inner()}</strong>"
    if kind == "code_inline":
        return f"<code{_style(style.CODE, styled)}>{escape(node.content)}</code>"
    if kind == "link":
        return (
            f'<a href="{href(get_link_id(node))}" class="bm-link" target="_blank"'
            f"{_style(style.A, styled)}>{inner()}</a>"
        )
    if kind == "image":
        src = escape(str(node.attrs.get("src", "")))
        alt = escape(node.content)
        return f'<img src="{src}" alt="{alt}"{_style(style.IMG, styled)} />'
    return escape(node.content)


# -- Plain text --------------------------------------------------------------------------


def text(tree: SyntaxTreeNode, width: int = TEXT_WIDTH) -> str:
    blocks = [_text_block(child, width) for child in tree.children]
    return "\n\n".join(block for block in blocks if block)


def wrap(content: str, width: int = TEXT_WIDTH, first: str = "", rest: str = "") -> str:
    """Wrap at `width`; URLs and placeholders are never broken, hard breaks are kept."""
    lines: list[str] = []
    for n, part in enumerate(content.split("\n")):
        wrapped = textwrap.wrap(
            " ".join(part.split()),
            width=width,
            initial_indent=first if n == 0 else rest,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.extend(wrapped or [(first if n == 0 else rest).rstrip()])
    return "\n".join(lines)


def _text_block(node: SyntaxTreeNode, width: int, first: str = "", rest: str = "") -> str:
    kind = node.type
    if kind == "paragraph":
        inline = "".join(_text_inline(c) for c in node.children[0].children)
        return wrap(inline, width, first, rest)
    if kind == "heading":
        title = wrap("".join(_text_inline(c) for c in node.children[0].children), width, first)
        return title
    if kind in ("bullet_list", "ordered_list"):
        start = int(node.attrs.get("start", 1)) if kind == "ordered_list" else 1
        items = []
        for n, item in enumerate(node.children):
            marker = f"{start + n}. " if kind == "ordered_list" else "- "
            items.append(_text_item(item, width, rest + marker, rest + " " * len(marker)))
        return "\n".join(items)
    if kind == "blockquote":
        inner = [_text_block(c, width, rest + "> ", rest + "> ") for c in node.children]
        return f"\n{rest}>\n".join(inner)
    if kind in ("code_block", "fence"):
        return "\n".join(rest + "    " + line for line in node.content.rstrip("\n").split("\n"))
    if kind == "hr":
        return rest + "-" * 20
    return wrap(node.content, width, first, rest)


def _text_item(item: SyntaxTreeNode, width: int, first: str, rest: str) -> str:
    parts = []
    for n, child in enumerate(item.children):
        parts.append(_text_block(child, width, first if n == 0 else rest, rest))
    return "\n".join(parts)


def _text_inline(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "text":
        return node.content
    if kind == "softbreak":
        return " "
    if kind == "hardbreak":
        return "\n"
    if kind == "code_inline":
        return node.content
    if kind == "link":
        label = "".join(_text_inline(c) for c in node.children)
        number = citation_number(str(node.attrs.get("href", "")))
        if number is not None:
            return f"{label} [{number}]"
        return f"{label} ({href(get_link_id(node))})"
    if kind == "image":
        return f"[image: {node.content}]" if node.content else "[image]"
    return "".join(_text_inline(c) for c in node.children)
