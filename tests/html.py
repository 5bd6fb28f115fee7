"""Reading pages in tests: every address a page's markup names."""

from __future__ import annotations

from html.parser import HTMLParser

URL_ATTRIBUTES = frozenset({"src", "href", "action", "data", "formaction"})


class _Urls(HTMLParser):
    def __init__(self, attributes: frozenset[str]) -> None:
        super().__init__()
        self.attributes = attributes
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in self.attributes and value:
                self.urls.append(value)


def page_urls(html: str, attributes: frozenset[str] = URL_ATTRIBUTES) -> list[str]:
    """The addresses in `attributes` of every tag of `html`, in order."""
    parser = _Urls(attributes)
    parser.feed(html)
    return parser.urls
