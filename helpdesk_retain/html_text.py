"""HTML bodies laid out as text: lxml (libxml2's HTML parser) builds the tree, a small walk over it writes lines.

The layout is the one inscriptis' "relaxed" profile gave, which this replaced because it took several times as
long on the short bodies webhooks carry (most of it in its per-element objects): block elements start a line,
paragraphs and headings stand apart by a blank line, ``<br>`` breaks a line, list items start with ``* `` (``+ ``,
``o ``, ``- `` when nested) or ``1. ``, table cells are set side by side in columns two spaces apart, ``<pre>``
keeps its whitespace, ``<q>`` is quoted, a ``<span>``'s text is set off by spaces, the head, scripts and styles
are dropped, and so is an element styled ``display: none``. The parser decodes entities. With ``links`` a link
with an ``href`` reads ``[text](url)``. The plainest bodies (``<div>``/``<p>`` blocks of text) skip the parser
for the same result: see ``plain_blocks``.

Deliberate departures from inscriptis, in whitespace and in two of its slips: text in ``<pre>`` stays
preformatted inside nested inline elements (``<pre><code>``); a table always starts a line (inscriptis ran the
text before it into its first cell); ``margin-*`` styles are not read; entities are decoded once (inscriptis
unescaped the parser's text a second time, so ``&amp;lt;`` came out as ``<``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from html.entities import name2codepoint
from typing import Any

from lxml import etree

#: list bullets by nesting depth (an ``<ol>`` counts instead)
BULLETS = ("* ", "+ ", "o ", "- ")
#: what separates two table cells on a line
CELL_SEPARATOR = "  "
_XML_DECLARATION = re.compile(r"^<\?xml [^>]+?\?>")
#: lxml's HTML parser (libxml2), without lxml.html's element classes, which the walk does not need. One parser
#: serves every thread: lxml locks a parser's context while it parses.
_PARSER = etree.HTMLParser()
#: ``valign`` -> how many halves of the spare lines go above a cell's text; ``align`` -> format() alignment
_VALIGN = {"top": 0, "middle": 1, "bottom": 2}
_ALIGN = {"left": "<", "right": ">", "center": "^"}
#: elements the walk treats specially (lists, tables, links, line breaks)
_LISTS = frozenset({"ul", "ol", "li"})
_SPECIAL = _LISTS | {"table", "tr", "td", "th", "a", "br"}
_WRAPPERS = frozenset({"html", "body"})
#: the plainest markup, and the most common: <div> or <p> blocks of text, lines broken by <br>, entities. Such a
#: body is laid out without a parser; characters libxml2 treats specially, and entities its versions (HTML 4 and
#: HTML 5 rules) could decode differently, are left to the parser. The quantifiers are possessive: a body that is
#: not plain fails in one pass, without backtracking
_ENTITY = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,7});"
_PLAIN_TEXT = r"[^<>&\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]++"
_PLAIN_BLOCKS = re.compile(r"(?:\s*+<(div|p)>(?:" + _PLAIN_TEXT + r"|<br\s*+/?>|" + _ENTITY + r")*+</\1>)++\s*+")
_PLAIN_BLOCK = re.compile(r"<(div|p)>(.*?)</\1>", re.DOTALL)
_BR = re.compile(r"<br\s*/?>")
_ENTITY_PARTS = re.compile(r"&(?:#([0-9]+)|#[xX]([0-9a-fA-F]+)|([a-zA-Z0-9]+));")
#: HTML 4's named entities, less the two HTML 5 redefined
_NAMED = {name: chr(code) for name, code in name2codepoint.items() if name not in ("lang", "rang")}


@dataclass(frozen=True, slots=True)
class Style:
    """How an element is laid out. ``pre`` None inherits the parent's; ``affix`` wraps each run of its text."""

    block: bool = False
    margin: int = 0  # blank lines before and after a block
    pre: bool | None = None
    affix: str = ""
    hidden: bool = False


INLINE = Style()
_BLOCK = Style(block=True)
_SPACED = Style(block=True, margin=1)
_PRE = Style(block=True, pre=True)
_HIDDEN = Style(hidden=True)
STYLES: dict[str, Style] = {
    **dict.fromkeys(("head", "link", "meta", "script", "title", "style"), _HIDDEN),
    **dict.fromkeys(("p", "figure", "h1", "h2", "h3", "h4", "h5", "h6"), _SPACED),
    **dict.fromkeys(("pre", "xmp", "listing", "plaintext"), _PRE),
    **dict.fromkeys(
        ("ul", "ol", "li", "address", "article", "aside", "div", "footer", "header", "hgroup", "layer", "main", "nav")
        + ("figcaption", "blockquote"),
        _BLOCK,
    ),
    "q": Style(affix='"'),
    "span": Style(affix=" "),
}


def restyle(style: Style, css: str) -> Style:
    """``style`` with an element's ``style`` attribute applied: ``display`` and ``white-space``."""
    css = css.lower()
    if "display" not in css and "white-space" not in css:
        return style
    for directive in css.split(";"):
        key, _, value = (part.strip() for part in directive.partition(":"))
        if key == "display":
            style = replace(style, hidden=True) if value == "none" else replace(style, block=value == "block")
        elif key == "white-space" and value in ("normal", "nowrap", "pre", "pre-line", "pre-wrap"):
            style = replace(style, pre=value.startswith("pre"))
    return style


class Canvas:
    """Lines being written: the finished ``lines`` and the pieces of the current one. Whitespace collapses to one
    space between words, none at either end of a line; a block's margin is the blank lines above its text.

    Text in normal whitespace is only collected in ``raw`` (``raw.append`` is the cheap way to write it) and laid
    out when the line ends or preformatted text follows: collapsing a run of pieces at once lays them out as one
    by one would, since no block starts or ends in between."""

    __slots__ = ("bullets", "lines", "margin", "pieces", "raw", "space")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.pieces: list[str] = []  # the current line as laid out so far
        self.raw: list[str] = []  # normal text written since; cleared, never replaced (callers keep its append)
        self.space = False  # whitespace after the last piece, written only when more text follows on the line
        self.margin = 1000  # blank lines above the current line; high at the start, so text opens with none
        self.bullets: list[str] = []  # per open block; the innermost unused one starts the next line

    def write(self, text: str, pre: bool) -> None:
        if pre:
            self.write_pre(text)
        else:
            self.raw.append(text)

    def write_pre(self, text: str) -> None:
        """Preformatted text: kept as it is."""
        self._lay_out()
        if not self.pieces:
            self._start_line()
        self.pieces.append(text)
        self.space = False

    def _lay_out(self) -> None:
        if not self.raw:
            return
        text = "".join(self.raw)
        self.raw.clear()
        words = text.split()
        if not words:
            self.space = self.space or bool(self.pieces)
            return
        if not self.pieces:
            self._start_line()
        elif self.space or text[0].isspace():
            self.pieces.append(" ")
        self.pieces.append(" ".join(words))
        self.space = text[-1].isspace()

    def _start_line(self) -> None:
        if any(self.bullets):
            self.pieces.append(self._next_bullet())

    def _next_bullet(self) -> str:
        for i in range(len(self.bullets) - 1, -1, -1):
            if bullet := self.bullets[i]:
                self.bullets[i] = ""
                return bullet
        return ""

    def flush(self) -> bool:
        """End the current line; False when it is empty (nothing changes then)."""
        if self.raw:
            self._lay_out()
        if not self.pieces:
            return False
        self.lines.append("".join(self.pieces))
        self.pieces, self.space, self.margin = [], False, 0
        return True

    def newline(self) -> None:
        """``<br>``: end the current line, or add an empty one."""
        if not self.flush():
            self.lines.append("")

    def _pad(self, margin: int) -> None:
        self.lines.extend([""] * (margin - self.margin))
        self.margin = margin

    def _bullet_line(self) -> None:
        # an empty list item still shows its bullet
        if unused := self._next_bullet():
            self.lines.append(unused)
            self.margin = 0

    def open_block(self, margin: int, bullet: str) -> None:
        if not self.flush() and bullet:
            self._bullet_line()
        self.bullets.append(bullet)
        if margin > self.margin:
            self._pad(margin)

    def close_block(self, margin: int, bullet: str) -> None:
        if not self.flush() and bullet:
            self._bullet_line()
        self.bullets.pop()
        if margin > self.margin:
            self._pad(margin)

    def text(self) -> str:
        self.flush()
        return "\n".join(self.lines)


class Cell(Canvas):
    """A table cell: a canvas of its own, and where its text sits in the space the row and column give it."""

    __slots__ = ("align", "valign")

    def __init__(self, align: str, valign: int) -> None:
        super().__init__()
        self.align, self.valign = align, valign


def table_text(rows: list[list[Cell]]) -> str:
    """The rows as lines: each column as wide as its widest line, each row as high as its highest cell."""
    if not rows:
        return "\n"
    grid = [[cell.text().split("\n") for cell in row] for row in rows]
    widths = [0] * max(map(len, grid))
    for row_lines in grid:
        for i, lines in enumerate(row_lines):
            widths[i] = max(widths[i], *map(len, lines))
    out: list[str] = []
    for row, row_lines in zip(rows, grid, strict=True):
        height = max(map(len, row_lines), default=0)
        columns = []
        for cell, lines, width in zip(row, row_lines, widths, strict=False):
            top = (height - len(lines)) * cell.valign // 2
            blank = " " * width
            body = [format(line, f"{cell.align}{width}") if width else line for line in lines]
            columns.append([blank] * top + body + [blank] * (height - len(lines) - top))
        out.extend(CELL_SEPARATOR.join(parts) for parts in zip(*columns, strict=True))
    return "\n".join(out) + "\n"


class Layout:
    """One walk over a parsed document: list counters and open tables are document state, not a canvas's."""

    __slots__ = ("counters", "links", "tables")

    def __init__(self, links: bool) -> None:
        self.links = links
        self.counters: list[str | int] = []  # per open <ul> (its bullet) or <ol> (its next number)
        self.tables: list[list[list[Cell]]] = []  # per open <table>: its rows of cells

    def walk(self, el: Any, tag: str, canvas: Canvas, parent: Style, pre: bool) -> None:
        """Write element ``el`` (``tag`` is its ``.tag``) and its descendants; not its tail: the parent writes
        that, in its own style."""
        # the hot path of every HTML body: each .tag, .text and .tail read makes a new Python object, so each is
        # read once, and the tags that need more than a style are found by one set look-up
        style = STYLES.get(tag, INLINE)
        if css := el.get("style"):
            style = restyle(style, css)
        if style.hidden:
            return
        if style.pre is not None:
            pre = style.pre
        affix = "" if pre and style.affix.isspace() else style.affix
        bullet = target = ""
        outer = None
        if special := tag in _SPECIAL:
            if tag == "br":
                canvas.newline()
            elif tag == "a":
                target = (el.get("href") or "") if self.links else ""
            elif tag in _LISTS:
                bullet = self.list_start(el, tag)
            elif tag == "table":  # its cells are laid out apart; text outside them is collected on its own
                self.tables.append([])
                outer, canvas = canvas, Canvas()
            elif self.tables:
                canvas = self.table_part(el, tag, canvas)
        if style.block:
            canvas.open_block(max(style.margin, parent.margin if parent.block else 0), bullet)
        write = canvas.write_pre if pre else canvas.raw.append
        if target:
            write("[")
        if text := el.text:
            write(f"{affix}{text}{affix}" if affix else text)
        for child in el:
            if isinstance(child_tag := child.tag, str):  # else a comment or processing instruction: only a tail
                self.walk(child, child_tag, canvas, style, pre)
            if tail := child.tail:
                write(f"{affix}{tail}{affix}" if affix else tail)
        if special:
            if target:
                write(f"]({target})")
            elif tag in ("ul", "ol"):
                self.counters.pop()
            elif outer is not None:
                self.end_table(outer, canvas)
        if style.block:
            canvas.close_block(style.margin, bullet)

    def list_start(self, el: Any, tag: str) -> str:
        """A list's counter, or a list item's bullet."""
        if tag == "ul":
            self.counters.append(BULLETS[len(self.counters) % len(BULLETS)])
            return ""
        if tag == "ol":
            self.counters.append(1)
            return ""
        counter = self.counters[-1] if self.counters else BULLETS[0]
        if isinstance(counter, str):
            return counter
        value = el.get("value") or ""
        number = int(value) if value.isdigit() else counter
        self.counters[-1] = number + 1
        return f"{number}. "

    def table_part(self, el: Any, tag: str, canvas: Canvas) -> Canvas:
        """Inside a table: a row starts a row, a cell gets its own canvas."""
        rows = self.tables[-1]
        if tag == "tr":
            rows.append([])
            return canvas
        cell = Cell(_ALIGN.get(el.get("align") or "", "<"), _VALIGN.get(el.get("valign") or "", 1))
        if not rows:
            rows.append([])
        rows[-1].append(cell)
        return cell

    def end_table(self, canvas: Canvas, stray: Canvas) -> None:
        """The table on lines of its own; text in it outside any cell (a caption) on the line before."""
        rows = self.tables.pop()
        canvas.flush()
        if caption := stray.text().strip():
            canvas.write(caption, False)
            canvas.newline()
        canvas.write(table_text(rows), True)
        canvas.flush()

    def __call__(self, root: Any) -> str:
        canvas = Canvas()
        self.wrapper(root, root.tag, canvas)
        return canvas.text()

    def wrapper(self, el: Any, tag: str, canvas: Canvas) -> None:
        """The <html> libxml2 wraps every document in, and its <body>: unless styled, they lay nothing out
        themselves, so their parts are walked straight away (a cheaper path for what every body has)."""
        if tag not in _WRAPPERS or el.get("style") is not None:
            return self.walk(el, tag, canvas, INLINE, False)
        if text := el.text:
            canvas.raw.append(text)
        for part in el:
            if isinstance(part_tag := part.tag, str):
                self.wrapper(part, part_tag, canvas)
            if tail := part.tail:
                canvas.raw.append(tail)


def render(html: str, *, links: bool = False) -> str:
    """``html`` laid out as lines of text (lines not yet stripped; blank lines not yet collapsed)."""
    html = html.strip()
    if _PLAIN_BLOCKS.fullmatch(html) and (text := plain_blocks(html)) is not None:
        return text
    return render_parsed(html, links=links)


def render_parsed(html: str, *, links: bool = False) -> str:
    """``render`` through the parser whatever the body (what ``plain_blocks`` must agree with)."""
    html = html.strip()
    if not html:
        return ""
    if html.startswith("<?xml "):
        html = _XML_DECLARATION.sub("", html, count=1)
    root = etree.fromstring(html, _PARSER)
    if root is None:  # nothing libxml2 calls a document (only a comment, say): its text verbatim
        root = etree.fromstring("<pre>" + html + "</pre>", _PARSER)
    return Layout(links)(root)


def plain_blocks(html: str) -> str | None:
    """A body that ``_PLAIN_BLOCKS`` matches, laid out as the walk lays out what libxml2 makes of it (each block
    in <body>, its text and line breaks in order); None when an entity in it is one to leave to the parser."""
    canvas = Canvas()
    for tag, content in _PLAIN_BLOCK.findall(html):
        margin = STYLES[tag].margin
        canvas.open_block(margin, "")
        for i, line in enumerate(_BR.split(content)):
            if i:
                canvas.newline()
            if "&" in line:
                try:
                    line = _ENTITY_PARTS.sub(_decode, line)
                except ValueError:
                    return None
            canvas.raw.append(line)
        canvas.close_block(margin, "")
    return canvas.text()


def _decode(entity: re.Match[str]) -> str:
    """The character an entity names; ValueError for one whose decoding depends on the libxml2 version (a C1
    control, a surrogate, a noncharacter: HTML 5 maps or replaces them) or that HTML 4 does not name."""
    decimal, hexadecimal, name = entity.groups()
    if name:
        if name not in _NAMED:
            raise ValueError(name)
        return _NAMED[name]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code in (9, 10, 13) or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFDCF:
        return chr(code)
    if 0xFDF0 <= code <= 0x10FFFF and code & 0xFFFE != 0xFFFE:
        return chr(code)
    raise ValueError(code)
