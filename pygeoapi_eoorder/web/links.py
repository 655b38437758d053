"""Links in HTML pages: only http(s) and relative hrefs stay clickable.

Records, STAC items and job documents carry hrefs that come from users and harvested
sources; a `javascript:` or `data:` href rendered by a template (ours or pygeoapi's) would
run in the page. Every HTML page the server renders passes through `neutralise`, which
rewrites only the start tags that carry such a URL attribute, without it: the element's
text stays, so the value is shown as text, not as a link.
"""

from __future__ import annotations

import re
from html import escape, unescape
from html.parser import HTMLParser

# element -> attributes a browser follows, or loads as a document or script
URL_ATTRIBUTES = {'a': ('href',), 'area': ('href',), 'form': ('action',),
                  'button': ('formaction',), 'input': ('formaction',),
                  'iframe': ('src',), 'frame': ('src',), 'embed': ('src',),
                  'object': ('data',), 'base': ('href',)}
SAFE_SCHEMES = ('http', 'https')
_SCHEME = re.compile(r'^([a-z][a-z0-9+.\-]*):', re.IGNORECASE)
_IGNORED_BY_BROWSERS = re.compile(r'[\x00-\x20\x7f]')  # stripped or skipped in URLs


def is_safe_href(value: str | None) -> bool:
    """Is `value` (an attribute value, entities decoded) an http(s) or relative URL?"""
    if value is None:
        return True
    match = _SCHEME.match(_IGNORED_BY_BROWSERS.sub('', value))
    return match is None or match.group(1).lower() in SAFE_SCHEMES


class _UnsafeTags(HTMLParser):
    """Collects the start tags carrying an unsafe URL attribute, with their replacement."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, int, str, str]] = []  # line, column, text, replacement

    def _check(self, tag: str, attrs: list, closed: bool) -> None:
        names = URL_ATTRIBUTES.get(tag, ())
        if not any(name in names and not is_safe_href(value) for name, value in attrs):
            return
        kept = ''.join(f' {name}' if value is None else f' {name}="{escape(value)}"'
                       for name, value in attrs if name not in names)
        line, column = self.getpos()
        self.found.append((line, column, self.get_starttag_text() or '',
                           f'<{tag}{kept}{" /" if closed else ""}>'))

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs, False)

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs, True)


# every value of an attribute named like a URL attribute, wherever it is: a superset of
# what the parser finds (attributes follow whitespace, '/' or a closing quote)
_URL_VALUES = re.compile(
    r'''[\s/"'](?:%s)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)''' % '|'.join(
        sorted({name for names in URL_ATTRIBUTES.values() for name in names})),
    re.IGNORECASE)


def _all_safe(page: str) -> bool:
    """Quick check: are all URL-like attribute values in `page` safe?"""
    return all(is_safe_href(unescape(value.strip('"\'')))
               for value in _URL_VALUES.findall(page))


def neutralise(page: str) -> str:
    """`page` with the unsafe URL attributes removed; otherwise unchanged."""
    if _all_safe(page):
        return page
    finder = _UnsafeTags()
    finder.feed(page)
    finder.close()
    if not finder.found:
        return page
    starts = [0]
    for line in page.split('\n'):  # HTMLParser counts lines by '\n' only
        starts.append(starts[-1] + len(line) + 1)
    out, done = [], 0
    for line, column, text, replacement in finder.found:
        offset = starts[line - 1] + column
        if offset < done or page[offset:offset + len(text)] != text:
            raise ValueError('cannot locate a start tag to rewrite')  # never expected
        out += [page[done:offset], replacement]
        done = offset + len(text)
    out.append(page[done:])
    return ''.join(out)
