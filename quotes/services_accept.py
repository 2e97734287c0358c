"""The customer's accept link: a signed token naming a quote, its reseller and the sent revision.

Whoever holds the link may read that revision and accept one scenario or decline, without signing in, so
the token is the only key: it is signed (django.core.signing, salt "quotes.accept"), every lookup runs
inside the reseller scope the token names (another reseller's quote id under it finds nothing), and it
works only while the quote waits for an answer: it "expires with the quote" (validity date or EXPIRED),
is used up by an answer, and is superseded when a newer revision is sent (the customer gets a new link).
"""

import uuid
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Reseller
from customer360.tenancy import tenant_scope
from customer360.validators import check_no_nul
from customers.activity import record_activity
from customers.models import Alert
from customers.services import do_raise_alert

from .models import Quote, QuoteRevision, QuoteScenario

SALT = "quotes.accept"
ANSWERED = (Quote.Status.ACCEPTED, Quote.Status.DECLINED, Quote.Status.CONVERTED)


class Reason:
    """Why a link cannot be answered, each with the HTTP status its page is sent with."""

    TAMPERED = "tampered"  # 404: not a link we made, or its quote or revision is gone
    ANSWERED = "answered"  # 409: accepted, declined or converted already
    SUPERSEDED = "superseded"  # 410: a newer revision was sent, with its own link
    REVISING = "revising"  # 409: the reseller is editing the next revision
    EXPIRED = "expired"  # 410: the validity date passed (or the quote was expired)


HTTP_STATUS = {
    None: 200,
    Reason.TAMPERED: 404,
    Reason.ANSWERED: 409,
    Reason.SUPERSEDED: 410,
    Reason.REVISING: 409,
    Reason.EXPIRED: 410,
}


class LinkRefused(Exception):
    """The link cannot be answered (any more); `reason` is one of Reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Access:
    """What a token opens: the quote and the revision it was sent as, or only the reason it opens nothing
    (quote and revision are None when tampered)."""

    reason: str | None
    quote: Quote | None = None
    revision: QuoteRevision | None = None
    reseller: Reseller | None = None
    payload: dict = field(default_factory=dict)

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.reason]

    @property
    def is_open(self) -> bool:
        return self.reason is None


def make_token(quote: Quote, revision: int | None = None) -> str:
    """The signed token for the quote's revision (the working one by default: the one being sent)."""
    payload = {"q": str(quote.pk), "r": str(quote.reseller_id), "v": int(revision or quote.revision)}
    return signing.dumps(payload, salt=SALT, compress=True)


def site_url() -> str:
    return getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")


def accept_url(request, quote: Quote, revision: int | None = None) -> str:
    """The absolute accept link for an email or the staff's "copy share link": from the request when
    there is one, else from settings.SITE_URL (emails sent by Celery have no request)."""
    path = reverse("quotes:accept", kwargs={"token": make_token(quote, revision)})
    return request.build_absolute_uri(path) if request is not None else site_url() + path


def accept_pdf_url(token: str) -> str:
    return reverse("quotes:accept-pdf", kwargs={"token": token})


def read_token(token: str) -> dict | None:
    """The token's payload, or None when it is not one we signed (or not of the expected shape)."""
    try:
        payload = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or not {"q", "r", "v"} <= set(payload):
        return None
    if not isinstance(payload["v"], int):
        return None
    return payload


def refusal(quote: Quote, revision_number: int, today: date) -> str | None:
    """Why the quote cannot be answered through its revision `revision_number`'s link, or None. The one
    rule, read by the page and re-read under the row lock by do_accept_quote/do_decline_quote."""
    if quote.status in ANSWERED:
        return Reason.ANSWERED
    if revision_number < quote.revision:
        newer = QuoteRevision.objects.filter(quote=quote, number__gt=revision_number).exists()
        return Reason.SUPERSEDED if newer else Reason.REVISING
    if quote.status == Quote.Status.EXPIRED or (quote.valid_until and quote.valid_until < today):
        return Reason.EXPIRED
    if quote.status != Quote.Status.SENT or revision_number != quote.revision:
        return Reason.TAMPERED  # never sent as this revision: not a link we gave anyone
    return None


def access_quote_by_token(token: str, *, today: date | None = None) -> Access:
    """What the link opens. Call inside `tenant_scope(access.reseller)` to read the quote's rows further:
    the lookups here open the scope the token names themselves."""
    payload = read_token(token)
    if payload is None:
        return Access(Reason.TAMPERED)
    reseller = Reseller.objects.filter(pk=_uuid_or_none(payload["r"])).first()
    if reseller is None:
        return Access(Reason.TAMPERED)
    with tenant_scope(reseller):
        quote = (
            Quote.objects.select_related("customer", "lead").filter(pk=_uuid_or_none(payload["q"])).first()
        )
        revision = quote and QuoteRevision.objects.filter(quote=quote, number=payload["v"]).first()
        if revision is None:
            return Access(Reason.TAMPERED, reseller=reseller)
        reason = refusal(quote, payload["v"], today or timezone.localdate())
    return Access(reason, quote, revision, reseller, payload)


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def check_answer(*, name: str, action: str, scenario_id=None, reason: str = "") -> dict:
    """The customer's form: their name (required), and for an acceptance the scenario they chose."""
    errors = {}
    check_no_nul(name=name, reason=reason)
    name = (name or "").strip()
    if not name:
        errors["name"] = "Type your name to sign the answer."
    elif len(name) > 150:
        errors["name"] = "Your name is too long (at most 150 characters)."
    if action == "accept" and not scenario_id:
        errors["scenario"] = "Choose the option you accept."
    if action == "decline" and len(reason or "") > 2000:
        errors["reason"] = "Keep the reason under 2,000 characters."
    if action not in ("accept", "decline"):
        errors["__all__"] = "Accept an option or decline the quote."
    if errors:
        raise ValidationError(errors)
    return {"name": name, "reason": (reason or "").strip()}


def customer_label(name: str) -> str:
    """How the activity log names the customer who answered through the link."""
    return f"{name} (customer, via accept link)"


def _locked(access: Access, today: date) -> Quote:
    # No select_related under the lock: after waiting for it, PostgreSQL re-reads the locked row but not
    # the joined ones, which would be stale. Related rows load afterwards, in fresh statements.
    quote = Quote.objects.select_for_update().get(pk=access.quote.pk)
    reason = refusal(quote, access.revision.number, today)
    if reason:
        raise LinkRefused(reason)
    return quote


def do_accept_quote(access: Access, *, scenario_id, name: str, on_date: date | None = None) -> Quote:
    """Accept one scenario of the revision the link was sent as. Locks the quote and re-checks it, so two
    answers at once (two tabs, accept and decline) leave exactly one. Raises LinkRefused, ValidationError."""
    clean = check_answer(name=name, action="accept", scenario_id=scenario_id)
    today = on_date or timezone.localdate()
    with tenant_scope(access.reseller), transaction.atomic():
        quote = _locked(access, today)
        scenario = QuoteScenario.objects.filter(quote=quote, pk=_uuid_or_none(scenario_id)).first()
        if scenario is None:
            raise ValidationError({"scenario": "Choose one of the options shown."})
        _answer(quote, Quote.Status.ACCEPTED, access.revision.number, clean["name"], scenario=scenario)
        actor = customer_label(clean["name"])
        record_activity(
            actor, "quote.accepted", f"Quote {quote.number} rev {access.revision.number} accepted: {scenario.name}",
            obj=quote, customer=quote.customer,
            changes={"status": [Quote.Status.SENT, quote.status], "accepted_scenario": [None, scenario.name]},
        )  # fmt: skip
        if quote.customer_id:
            do_raise_alert(
                quote.customer, kind=Alert.Kind.GENERAL, actor=actor,
                title=f"Quote {quote.number} accepted",
                message=f"{clean['name']} accepted \"{scenario.name}\" of {quote.number} rev "
                f"{access.revision.number}; convert it to an order from the quote.",
            )  # fmt: skip
    return quote


def do_decline_quote(access: Access, *, name: str, reason: str = "", on_date: date | None = None) -> Quote:
    clean = check_answer(name=name, action="decline", reason=reason)
    today = on_date or timezone.localdate()
    with tenant_scope(access.reseller), transaction.atomic():
        quote = _locked(access, today)
        _answer(quote, Quote.Status.DECLINED, access.revision.number, clean["name"], reason=clean["reason"])
        actor = customer_label(clean["name"])
        record_activity(
            actor, "quote.declined", f"Quote {quote.number} rev {access.revision.number} declined"
            + (f": {clean['reason']}" if clean["reason"] else ""), obj=quote, customer=quote.customer,
            changes={"status": [Quote.Status.SENT, quote.status], "decline_reason": [None, clean["reason"]]},
        )  # fmt: skip
        if quote.customer_id:
            do_raise_alert(
                quote.customer, kind=Alert.Kind.GENERAL, actor=actor, severity=Alert.Severity.WARNING,
                title=f"Quote {quote.number} declined", message=clean["reason"] or f"{clean['name']} gave no reason.",
            )  # fmt: skip
    return quote


def _answer(quote: Quote, status: str, revision: int, name: str, *, scenario=None, reason: str = "") -> None:
    quote.status = status
    quote.accepted_scenario = scenario
    quote.responded_revision = revision
    quote.responded_by_name = name
    quote.responded_at = timezone.now()
    quote.decline_reason = reason
    quote.updated_at = quote.responded_at
    quote.save(
        update_fields=[
            "status", "accepted_scenario", "responded_revision", "responded_by_name", "responded_at",
            "decline_reason", "updated_at",
        ]
    )  # fmt: skip


# --- The document the customer reads ---------------------------------------------------------------------


def document(access: Access) -> dict:
    """The revision as the customer sees it, read from its snapshot (what was sent, never the working
    copy): {"name", "number", "revision", "valid_until", "currency", "notes", "terms", "scenarios": [
    {"id", "name", "sections": [{"name", "lines": [...], "subtotal"}], "subtotal", "tax", "total"}]}.
    A scenario's "id" is the QuoteScenario the radio button accepts; a snapshot without ids is matched to
    the quote's scenarios by position (the quote cannot change while its link is open)."""
    snap = access.revision.snapshot or {}
    quote = access.quote
    with tenant_scope(access.reseller):
        working = list(QuoteScenario.objects.filter(quote=quote).order_by("position", "name"))
    scenarios = []
    for i, s in enumerate(snap.get("scenarios") or []):
        fallback = working[i].pk if i < len(working) else None
        scenarios.append(
            {
                "id": str(s.get("id") or fallback or ""),
                "name": s.get("name", ""),
                "sections": [
                    {
                        "name": sec.get("name", ""),
                        "lines": list(sec.get("lines") or []),
                        "subtotal": sec.get("subtotal"),
                    }
                    for sec in s.get("sections") or []
                ],
                "subtotal": s.get("subtotal"),
                "tax": s.get("tax"),
                "total": s.get("total"),
            }
        )
    return {
        "name": snap.get("name") or quote.name,
        "number": snap.get("number") or quote.number,
        "revision": access.revision.number,
        "valid_until": snap.get("valid_until") or (quote.valid_until and quote.valid_until.isoformat()),
        "currency": snap.get("currency") or access.revision.currency,
        "notes": snap.get("notes", ""),
        "terms": snap.get("terms", ""),
        "recipient": snap.get("recipient") or {},
        "scenarios": scenarios,
        "sent_at": access.revision.created_at,
    }
