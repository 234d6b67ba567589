"""Evidence bodies as Markdown: parsed by markdown-it-py (CommonMark, raw HTML off) and then sanitised by nh3 (the
Ammonia sanitiser) against an allow-list. No HTML is filtered by hand here: the parser escapes any HTML typed in the
body, and nh3 removes whatever the allow-list does not name from what the parser produced (a `javascript:` or `data:`
link, an event attribute, a tag). Links open in a new tab, without the page as opener and without passing rank."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# What Markdown may produce in a comment: text structure, code, quotes, tables and links. No images (a comment could
# otherwise load a tracking pixel from every reader), no raw HTML.
TAGS = {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "h5", "h6", "hr",
        "table", "thead", "tbody", "tr", "th", "td", "del"}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener noreferrer"

# CommonMark with tables and strikethrough; "html": False makes the parser escape every tag typed in the body.
_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])
# A comment's headings sit under the page's own h3 ("Evidence"): "# x" and "## x" become h3 too.
_PARSER.renderer.rules["heading_open"] = lambda tokens, idx, options, env: (
    f"<h{max(3, int(tokens[idx].tag[1]))}>")
_PARSER.renderer.rules["heading_close"] = lambda tokens, idx, options, env: (
    f"</h{max(3, int(tokens[idx].tag[1]))}>\n")


def render_markdown(text: str) -> str:
    """`text` (Markdown) as HTML that is safe to put in a page as is."""
    html = _PARSER.render(text or "")
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel=LINK_REL,
                     set_tag_attribute_values={"a": {"target": "_blank"}}, strip_comments=True)
