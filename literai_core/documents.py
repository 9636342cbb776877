"""Reading a document to summarize: plain text, Markdown, or EPUB (in spine order).
Anything else, or a file that is empty, binary or too big, is a DocumentError with one
line that says which."""

from __future__ import annotations

import html.parser
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote
from xml.etree import ElementTree

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ".log", ""}  # .log: a chat log


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
        text = _epub_text(path, max_bytes)
    elif suffix in TEXT_SUFFIXES:
        data = path.read_bytes()
        if b"\x00" in data[:65536]:
            raise DocumentError(f"{path}: a binary file, not text")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentError(f"{path}: not UTF-8 text") from None
    else:
        raise DocumentError(f"{path}: unsupported type {suffix!r} (use .txt, .md, .log or .epub)")
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


def _epub_text(path: Path, max_bytes: int) -> str:
    """The chapters of an EPUB in reading order. An EPUB is a zip: META-INF/container.xml
    names the package file, whose spine lists the chapters. Read with the standard
    library: ebooklib, the usual EPUB library, is AGPL-3.0, which this Apache-2.0
    project cannot take on. What is read is bounded by ``max_bytes`` uncompressed (a
    small zip can inflate to gigabytes), and a chapter the spine lists twice is read once."""
    try:
        with zipfile.ZipFile(path) as z:
            budget = _Budget(path, max_bytes)
            container = ElementTree.fromstring(budget.read(z, "META-INF/container.xml"))
            rootfile = container.find(".//{*}rootfile")
            if rootfile is None:
                raise KeyError("rootfile")
            opf_path = PurePosixPath(rootfile.attrib["full-path"])
            opf = ElementTree.fromstring(budget.read(z, str(opf_path)))
            manifest = opf.iterfind(".//{*}manifest/{*}item")
            items = {item.attrib["id"]: item.attrib["href"] for item in manifest}
            chapters, seen = [], set()
            for ref in opf.iterfind(".//{*}spine/{*}itemref"):
                href = items.get(ref.attrib.get("idref", ""))
                if href is None:
                    continue
                name = str(opf_path.parent / unquote(href)).removeprefix("./")
                if name in seen:
                    continue
                seen.add(name)
                parser = _Text()
                parser.feed(budget.read(z, name).decode("utf-8", "replace"))
                chapters.append(parser.text())
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError) as exc:
        raise DocumentError(f"{path}: not a readable EPUB ({type(exc).__name__})") from None
    return "\n\n".join(c for c in chapters if c)


class _Budget:
    """Bytes inflated from a zip, all members together, at most ``max_bytes``: read
    through a bounded stream, not trusting the sizes the zip declares."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.left = max_bytes
        self.max_bytes = max_bytes

    def read(self, z: zipfile.ZipFile, name: str) -> bytes:
        with z.open(name) as member:
            data = member.read(self.left + 1)
        if len(data) > self.left:
            raise DocumentError(
                f"{self.path}: inflates past {self.max_bytes:,} bytes (bot.summary.max_file_bytes)"
            )
        self.left -= len(data)
        return data
