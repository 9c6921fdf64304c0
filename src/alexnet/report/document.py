"""Reports are Markdown text; index.html and scorecard.html are that text through
python-markdown, one self-contained page each (no script or network; relative PNG links).
TEXT: the reports' prose, from text.yaml."""

from __future__ import annotations

import html
import re
from pathlib import Path

import markdown
import yaml

TEXT = yaml.safe_load((Path(__file__).parent / "text.yaml").read_text(encoding="utf-8"))
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code { background: #f3f3f3; padding: 0 0.2rem; }
img { width: 100%; border: 1px solid #eee; }
"""


def table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ")
                                 for c in cells) + " |"
    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def plain(text: str) -> str:
    """Markdown as plain text: no **bold**, no `code`, a [link](target) as its words."""
    return re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", text).replace("**", "").replace("`", "")


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def figure(path: str, caption: str) -> str:
    """A PNG (`path` relative to the report) with its caption under it."""
    return f"![{caption}]({path})\n\n*{caption}*"


def join(parts: list[str]) -> str:
    """The parts (headings, paragraphs, tables, ...) as one Markdown document."""
    return "\n\n".join(p for p in parts if p) + "\n"


def to_html(text: str, title: str) -> str:
    body = markdown.markdown(text, extensions=["tables"])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
            f"{body}\n</body></html>\n")
