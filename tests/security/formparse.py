"""A small HTML form reader: each form's action, method and the values a browser would submit."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)


class _Parser(HTMLParser):
    def __init__(self, page_url):
        super().__init__(convert_charrefs=True)
        self.page_url, self.forms, self.form = page_url, [], None
        self.select = self.textarea = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.form = Form(a.get("action") or self.page_url, (a.get("method") or "get").upper())
            self.forms.append(self.form)
        elif self.form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "file":
                self.form.files.append(a["name"])
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.form.fields[a["name"]] = a.get("value", "y")
            elif kind not in ("submit", "button", "reset", "image"):
                self.form.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self.select = a["name"]
            self.form.options[self.select] = []
        elif tag == "textarea":
            self.textarea = a["name"]
            self.form.fields[self.textarea] = ""

    def handle_starttag_option(self, a):
        pass

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea and self.form is not None:
            self.form.fields[self.textarea] += data

    def unknown_decl(self, data):  # pragma: no cover
        pass


class _OptionParser(_Parser):
    def handle_starttag(self, tag, attrs):
        if tag == "option" and self.select and self.form is not None:
            a = {k: v or "" for k, v in attrs}
            value = a.get("value", "")
            self.form.options[self.select].append(value)
            if "selected" in a or self.select not in self.form.fields:
                self.form.fields[self.select] = value
            return
        super().handle_starttag(tag, attrs)


def forms_of(html: str, page_url: str) -> list[Form]:
    parser = _OptionParser(page_url)
    parser.feed(html)
    return parser.forms
