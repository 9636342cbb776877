"""Reading a document to summarize: plain text, Markdown, or EPUB (ebooklib, in spine
order). Anything else, or a file that is empty, binary or too big, is a DocumentError
with one line that says which."""

from __future__ import annotations

import html.parser
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ""}


class DocumentError(ValueError):
    pass


def read_document(path: Path, max_bytes: int) -> str:
    if not path.is_file():
        raise DocumentError(f"{path}: no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(
            f"{path}: too big ({size:,} bytes; the limit is {max_bytes:,}, "
            "bot.summary.max_file_bytes)"
        )
    suffix = path.suffix.lower()
    if suffix == ".epub":
        text = _epub_text(path)
    elif suffix in TEXT_SUFFIXES:
        data = path.read_bytes()
        if b"\x00" in data[:65536]:
            raise DocumentError(f"{path}: a binary file, not text")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentError(f"{path}: not UTF-8 text") from None
    else:
        raise DocumentError(f"{path}: unsupported type {suffix!r} (use .txt, .md or .epub)")
    if not text.strip():
        raise DocumentError(f"{path}: there is no text in it")
    return text


class _Text(html.parser.HTMLParser):
    """The readable text of an XHTML chapter: block elements become paragraphs."""

    BLOCKS = frozenset("p div br h1 h2 h3 h4 h5 h6 li tr section".split())
    SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        joined = "".join(self.parts)
        paragraphs = (" ".join(p.split()) for p in joined.split("\n\n"))
        return "\n\n".join(p for p in paragraphs if p)


def _epub_text(path: Path) -> str:
    import ebooklib
    from ebooklib import epub

    try:
        book = epub.read_epub(str(path), options={"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises many kinds for a broken archive
        raise DocumentError(f"{path}: not a readable EPUB ({type(exc).__name__})") from None
    chapters = []
    for item_id, _ in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        parser = _Text()
        parser.feed(item.get_content().decode("utf-8", "replace"))
        chapters.append(parser.text())
    return "\n\n".join(c for c in chapters if c)
