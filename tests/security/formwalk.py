"""Finding the forms of a page and posting bad values to them, with the checks every post must pass.

A form is a <form method="post"> (or one with hx-post) as the page renders it: its fields' names, kinds,
options and values, so the post is what a browser would send. `Poster.post` sends one set of values in a
savepoint that is rolled back afterwards (every post starts from the same rows) and records a problem when:
* the server fails (an exception, a status of 500 or more);
* the form is not accepted (no redirect, no change) and the answer shows no error message;
* rows changed although the answer shows an error (a half-save);
* the form is accepted and a text field's value is not stored as typed (after Django's stripping).
"""

import json
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from django.db import connection, transaction

from ..foundation.urlwalk import changed_tables, tenant_digest, tenant_models
from .naughty import TEXT_KINDS, encode_form, has_surrogate

ERROR_MARKERS = (
    'class="errorlist',
    "has-error",
    'class="error"',
    'class="warning"',
    "errornote",
    'role="alert"',
)
SUBMITS = ("submit", "image")


@dataclass
class Field:
    name: str
    kind: str  # the input type, or "select" / "textarea"
    value: str = ""
    options: list = field(default_factory=list)
    checked: bool = False
    required: bool = False
    multiple: bool = False


@dataclass
class Form:
    page: str
    action: str
    multipart: bool
    fields: list = field(default_factory=list)
    submit: tuple | None = None  # (name, value) of the button pressed

    @property
    def key(self) -> str:
        button = f" [{self.submit[0]}={self.submit[1]}]" if self.submit else ""
        return f"{urlsplit(self.action).path}{button}"

    def editable(self) -> list:
        """The fields a user (or a tampering client) sets: all but the CSRF token."""
        return [f for f in self.fields if f.name != "csrfmiddlewaretoken"]

    def defaults(self) -> dict:
        """What the browser would send untouched, with empty required fields filled plausibly."""
        data = {}
        for f in self.fields:
            if f.kind == "file":
                continue
            if f.kind in ("checkbox", "radio"):
                if f.checked:
                    data.setdefault(f.name, []).append(f.value or "on")
                continue
            if f.kind == "select":
                chosen = [v for v, selected in f.options if selected]
                if not chosen and f.options and not f.multiple:
                    chosen = [next((v for v, _ in f.options if v), f.options[0][0])]
                data[f.name] = chosen
                continue
            data[f.name] = [f.value or (plausible(f) if f.required else "")]
        if self.submit:
            data[self.submit[0]] = [self.submit[1]]
        return data


def plausible(f: Field) -> str:
    return {
        "email": "fuzz@example.com",
        "number": "1",
        "date": date.today().isoformat(),
        "month": date.today().strftime("%Y-%m"),
        "url": "https://example.com/",
    }.get(f.kind, "Fuzz value")


class _FormParser(HTMLParser):
    def __init__(self, page):
        super().__init__(convert_charrefs=True)
        self.page, self.forms, self.current = page, [], None
        self.buttons, self._select, self._textarea, self._option = [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            method = (a.get("method") or "get").lower()
            hx = a.get("hx-post")
            if method == "post" or hx:
                action = urljoin(self.page, hx or a.get("action") or self.page)
                multipart = "multipart" in (a.get("enctype") or a.get("hx-encoding") or "")
                self.current = Form(page=self.page, action=action, multipart=multipart)
                self.buttons = []
            return
        if self.current is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in SUBMITS:
                self.buttons.append((name, a.get("value") or ""))
            elif kind not in ("button", "reset"):
                self.current.fields.append(
                    Field(name, kind, a.get("value") or "", checked="checked" in a, required="required" in a)
                )
        elif tag == "button" and name and (a.get("type") or "submit").lower() == "submit":
            self.buttons.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select = Field(name, "select", required="required" in a, multiple="multiple" in a)
            self.current.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]
            self._select.options.append(self._option)
        elif tag == "textarea" and name:
            self._textarea = Field(name, "textarea", required="required" in a)
            self.current.fields.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data
        if self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "option" and self._option is not None:
            self._close_option()
        elif tag == "select":
            if self._option is not None:
                self._close_option()
            self._select = None
        elif tag == "form" and self.current is not None:
            named = list(dict.fromkeys(self.buttons))
            for button in named or [None]:
                form = Form(
                    self.current.page, self.current.action, self.current.multipart, self.current.fields
                )
                form.submit = button
                self.forms.append(form)
            self.current = None

    def _close_option(self):
        value, selected, text = self._option
        index = self._select.options.index(self._option)
        self._select.options[index] = (text.strip() if value is None else value, selected)
        self._option = None


def forms_of(page_url: str, html: str) -> list:
    parser = _FormParser(page_url)
    parser.feed(html)
    return parser.forms


def shows_error(text: str) -> bool:
    return any(marker in text for marker in ERROR_MARKERS)


def _is_redirect(response) -> bool:
    return response.status_code in (301, 302, 303) or "HX-Redirect" in response or "HX-Location" in response


def stored(tables: list, value: str) -> bool:
    """Whether a row of one of `tables` holds `value` as a column's text or inside a JSON column."""
    quote = connection.ops.quote_name
    models = {m._meta.label: m for m in tenant_models()}
    nested = json.dumps(value, ensure_ascii=False)
    with connection.cursor() as cursor:
        for label in tables:
            model = models.get(label)
            if model is None:
                continue
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {quote(model._meta.db_table)} t, jsonb_each(to_jsonb(t)) kv "
                "WHERE kv.value #>> '{}' = %s OR strpos(kv.value::text, %s) > 0)",
                [value, nested],
            )
            if cursor.fetchone()[0]:
                return True
    return False


@dataclass
class Poster:
    """Posts to forms as one signed-in client, counting posts and collecting problems."""

    client: object
    who: str
    problems: list = field(default_factory=list)
    posts: int = 0
    server_errors: int = 0
    half_saves: int = 0
    accepted: int = 0
    refused: int = 0
    baseline: dict = field(default_factory=tenant_digest)
    # (form key, field name) pairs whose stored value is the form's documented normalisation of the text.
    normalised: dict = field(default_factory=dict)
    _seen: set = field(default_factory=set)

    def fail(self, form, text, kind, field_name=None):
        """One problem per form, field and kind of failure (the first value that showed it)."""
        key = (form.key, field_name, kind)
        if key not in self._seen:
            self._seen.add(key)
            self.problems.append(f"{self.who}: {form.key}: {text}")

    def post(self, form, data, *, field_name=None, typed=None, round_trip=False, htmx=False):
        """Send `data`; `field_name`/`typed` name the value under test, checked to be stored as typed
        when `round_trip`."""
        self.posts += 1
        label = f"{field_name}={typed!r:.60}" if field_name else f"generated {data!r:.300}"
        typed = typed if round_trip else None
        headers = {"HX-Request": "true"} if htmx else {}
        try:
            with transaction.atomic():
                response = self._send(form, data, headers)
                after = tenant_digest()
                changed = changed_tables(self.baseline, after)
                self._check(form, response, changed, label, field_name, typed)
                transaction.set_rollback(True)
        except Exception as exc:  # noqa: BLE001 - a view that raises is what the walk looks for
            self.server_errors += 1
            self.fail(
                form, f"{label} raised {exc.__class__.__name__}: {str(exc)[:200]}", type(exc), field_name
            )

    def stores_as_text(self, form, data, field_name) -> bool:
        """Whether a plain value typed in the field is stored as typed (fields that only matter for
        another choice of the form, like an S3 bucket when the export is downloaded, are not)."""
        marker = f"fuzz-{len(self.problems)}-{self.posts}"
        self.posts += 1
        with transaction.atomic():
            response = self._send(form, {**data, field_name: [marker]}, {})
            changed = changed_tables(self.baseline, tenant_digest())
            found = response.status_code < 400 and bool(changed) and stored(changed, marker)
            transaction.set_rollback(True)
        return found

    def _send(self, form, data, headers):
        if form.multipart:
            clean = {k: [v for v in vs if not has_surrogate(v)] for k, vs in data.items()}
            return self.client.post(form.action, clean, headers=headers)
        return self.client.generic(
            "POST", form.action, encode_form(data), "application/x-www-form-urlencoded", headers=headers
        )

    def _check(self, form, response, changed, label, field_name, typed):
        status = response.status_code
        if status >= 500:
            self.server_errors += 1
            self.fail(form, f"{label} answered {status}", status, field_name)
            return
        text = "" if getattr(response, "streaming", False) else response.content.decode("utf-8", "replace")
        if changed and status == 200 and shows_error(text) and not _is_redirect(response):
            self.half_saves += 1
            self.fail(form, f"{label} showed an error but changed {', '.join(changed)}", "half", field_name)
            return
        if changed or _is_redirect(response):
            self.accepted += 1
            if changed and typed is not None:
                self._round_trip(form, changed, label, field_name, typed)
            return
        self.refused += 1
        if status in (200, 400, 409, 413, 422) and not shows_error(text):
            self.fail(form, f"{label} answered {status}, changed nothing and showed no error message", "silent",
                      field_name)  # fmt: skip

    def _round_trip(self, form, changed, label, field_name, typed):
        kind = next((f.kind for f in form.fields if f.name == field_name), None)
        if kind not in TEXT_KINDS or not isinstance(typed, str) or has_surrogate(typed):
            return
        normalise = self.normalised.get(field_name, str.strip)
        expected = normalise(typed) if normalise else None
        if expected and not stored(changed, expected):
            self.fail(form, f"{label} was accepted but not stored as typed ({', '.join(changed)} changed)",
                      "round-trip", field_name)  # fmt: skip
