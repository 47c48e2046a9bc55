"""Check the internal links of the built documentation site, offline.

Usage: python .ci/check_links.py docs/_build/html

Every local href/src of every page (navigation, templates, gallery, API pages)
must name a file that exists and, with a #fragment, an id on that page.
External http(s) links are not checked.
"""
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

root = Path(sys.argv[1]).resolve()


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.update(attrs[key] for key in ("id", "name") if attrs.get(key))
        if tag in ("a", "img", "link", "script"):
            self.links += [attrs[key] for key in ("href", "src") if attrs.get(key)]


pages = {}
for path in root.rglob("*.html"):
    if "_static" not in path.relative_to(root).parts:  # the theme's template copies
        pages[path] = page = Page()
        page.feed(path.read_text(encoding="utf-8"))
broken = []
for path, page in pages.items():
    for link in page.links:
        parts = urlsplit(link)
        if parts.scheme or link.startswith("//"):
            continue  # http(s), mailto, data: not checked offline
        target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(f"{path.relative_to(root)}: {link} (no such file)")
        elif (parts.fragment and target in pages
              and unquote(parts.fragment) not in pages[target].ids):
            broken.append(f"{path.relative_to(root)}: {link} (no such anchor)")
print(f"internal links: {len(pages)} pages, {sum(len(p.links) for p in pages.values())} links")
if broken:
    sys.exit("broken internal links:\n" + "\n".join(sorted(set(broken))))
