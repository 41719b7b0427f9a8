"""Markdown → a tree of sections holding typed blocks, each with its 1-based source line.

markdown-it-py does the parsing (CommonMark + tables); this module only folds its token stream
into :class:`Section` objects (one per heading) holding :class:`Table`, :class:`ListBlock`,
:class:`Fence` and :class:`Paragraph` blocks. Inline content keeps its code spans apart from its
prose so later stages can tell a command (`` `npm run lint` ``) from a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark").enable("table")
_TASK = re.compile(r"^\[([ xX])\]\s+")


@dataclass
class Inline:
    """Inline content: plain text (code spans kept in backticks), the code spans, bold lead-in."""

    text: str
    codes: list[str] = field(default_factory=list)
    bold: str | None = None
    """The text of a leading ``**bold**`` run, when the content starts with one."""

    @property
    def prose(self) -> str:
        """The text without its code spans."""
        return re.sub(r"`[^`]*`", " ", self.text)


@dataclass
class Block:
    line: int


@dataclass
class Paragraph(Block):
    inline: Inline


@dataclass
class Fence(Block):
    info: str
    content: str

    @property
    def first_line(self) -> int:
        """Line of the first content line (the line after the opening fence)."""
        return self.line + 1


@dataclass
class Table(Block):
    header: list[str]
    rows: list[list[Inline]]
    row_lines: list[int]


@dataclass
class Item:
    line: int
    inline: Inline
    task: bool | None = None
    """None: not a task item; False: ``- [ ]``; True: ``- [x]``."""
    children: list[Block] = field(default_factory=list)


@dataclass
class ListBlock(Block):
    ordered: bool
    items: list[Item]


@dataclass
class Section:
    """A heading and everything up to the next heading of the same or a higher level."""

    title: str
    level: int
    line: int
    blocks: list[Block] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


def simple_lead(before: str) -> bool:
    """Whether the words before a command are one short instruction ("Execute via"), not a
    sentence listing several actions (commas, dashes) that a person has to carry out."""
    last = re.split(r"(?<=[.!?])\s+", before.strip())[-1] if before.strip() else ""
    return len(last.split()) <= 8 and not re.search(r"[,;—–]", last)


def _inline(token: Token | None) -> Inline:
    if token is None or token.children is None:
        return Inline(token.content if token else "")
    parts: list[str] = []
    codes: list[str] = []
    children = [c for c in token.children if not (c.type == "text" and not c.content)]
    bold: str | None = None
    if children and children[0].type == "strong_open":
        depth, lead = 0, []
        for child in children:
            depth += child.nesting if child.type.startswith("strong") else 0
            if child.type in ("text", "code_inline"):
                lead.append(child.content)
            elif child.type == "softbreak":
                lead.append(" ")
            if depth == 0 and child.type == "strong_close":
                break
        bold = re.sub(r"\s+", " ", "".join(lead)).strip() or None
    for child in children:
        if child.type == "code_inline":
            parts.append(f"`{child.content}`")
            codes.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type in ("text", "html_inline"):
            parts.append(child.content)
    text = re.sub(r"\s+", " ", "".join(parts)).strip()
    return Inline(text, codes, bold)


def parse(text: str) -> Section:
    """The whole document as a root section (level 0) holding nested sections."""
    tokens = _PARSER.parse(text)
    root = Section("", 0, 1)
    stack = [root]
    pos = 0
    while pos < len(tokens):
        token = tokens[pos]
        if token.type == "heading_open":
            level = int(token.tag[1:])
            title = _inline(tokens[pos + 1]).text
            section = Section(title, level, _line(token))
            while stack[-1].level >= level:
                stack.pop()
            stack[-1].sections.append(section)
            stack.append(section)
            pos += 3
            continue
        block, pos = _block(tokens, pos)
        if block is not None:
            stack[-1].blocks.append(block)
    return root


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 1


def _close(tokens: list[Token], pos: int) -> int:
    """Index just after the token closing the one at pos."""
    depth = 0
    for index in range(pos, len(tokens)):
        depth += tokens[index].nesting
        if depth == 0:
            return index + 1
    return len(tokens)


def _block(tokens: list[Token], pos: int) -> tuple[Block | None, int]:
    token = tokens[pos]
    if token.type in ("fence", "code_block"):
        info = token.info.strip().split(" ")[0].lower() if token.type == "fence" else ""
        return Fence(_line(token), info, token.content), pos + 1
    if token.type == "paragraph_open":
        return Paragraph(_line(token), _inline(tokens[pos + 1])), _close(tokens, pos)
    if token.type in ("bullet_list_open", "ordered_list_open"):
        end = _close(tokens, pos)
        return _list(tokens, pos, end), end
    if token.type == "table_open":
        end = _close(tokens, pos)
        return _table(tokens, pos, end), end
    if token.type == "blockquote_open":
        # A quote's paragraphs read as plain paragraphs (notes such as "Secrets storage: ...").
        end = _close(tokens, pos)
        inner = pos + 1
        block: Block | None = None
        while inner < end - 1:
            found, inner = _block(tokens, inner)
            block = block or found
        return block, end
    if token.nesting == 1:
        return None, _close(tokens, pos)
    return None, pos + 1


def _list(tokens: list[Token], start: int, end: int) -> ListBlock:
    items: list[Item] = []
    pos = start + 1
    while pos < end - 1:
        token = tokens[pos]
        if token.type != "list_item_open":
            pos += 1
            continue
        item_end = _close(tokens, pos)
        item = Item(_line(token), Inline(""))
        inner = pos + 1
        first = True
        while inner < item_end - 1:
            if first and tokens[inner].type == "paragraph_open":
                item.inline = _inline(tokens[inner + 1])
                inner = _close(tokens, inner)
                first = False
                continue
            first = False
            block, inner = _block(tokens, inner)
            if block is not None:
                item.children.append(block)
        match = _TASK.match(item.inline.text)
        if match:
            item.task = match.group(1) != " "
            item.inline = Inline(
                item.inline.text[match.end() :], item.inline.codes, item.inline.bold
            )
        items.append(item)
        pos = item_end
    return ListBlock(_line(tokens[start]), tokens[start].type == "ordered_list_open", items)


def _table(tokens: list[Token], start: int, end: int) -> Table:
    header: list[str] = []
    rows: list[list[Inline]] = []
    lines: list[int] = []
    in_head = False
    for pos in range(start, end):
        token = tokens[pos]
        if token.type == "thead_open":
            in_head = True
        elif token.type == "thead_close":
            in_head = False
        elif token.type == "tr_open" and not in_head:
            rows.append([])
            lines.append(_line(token))
        elif token.type == "inline":
            if in_head:
                header.append(_inline(token).text)
            elif rows:
                rows[-1].append(_inline(token))
    return Table(_line(tokens[start]), header, rows, lines)
