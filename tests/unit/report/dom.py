"""A small DOM for the report's HTML, on the standard library's parser (no bs4 here)."""

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source"}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)
    text_parts: list = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(
            part if isinstance(part, str) else part.text for part in self.text_parts
        ).strip()

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs) -> list["Node"]:
        cls = attrs.pop("cls", None)
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
            and (cls is None or cls in n.classes)
        ]

    def by_id(self, id: str) -> "Node":
        found = self.find_all(id=id)
        assert len(found) == 1, f"{len(found)} elements with id {id!r}"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        self.stack[-1].text_parts.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].text_parts.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root


def table_rows(root: Node, id: str) -> list[list[str]]:
    """The body rows of table ``id`` as lists of cell texts."""
    body = root.by_id(id).find_all("tbody")[0]
    return [[td.text for td in tr.find_all("td")] for tr in body.find_all("tr")]
