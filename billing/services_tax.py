"""Tax rates and tax profiles: lookups with the tenancy built in, checks, and logged writes."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from customers.activity import changed_fields, record_activity, snapshot

from .models_tax import TaxCategory, TaxProfile, TaxRate

RATE_FIELDS = ["name", "rate", "country", "region", "postal_prefix", "valid_from", "valid_until"]
PROFILE_FIELDS = ["enabled", "tax_id", "taxable_categories", "exempt", "exemption_certificate"]
PROFILE_FIELDS += ["exemption_expires"]


def access_tax_rate(rate_id) -> TaxRate:
    return get_object_or_404(TaxRate.objects.all(), pk=rate_id)


def tax_profile_of(customer) -> TaxProfile | None:
    return TaxProfile.objects.filter(customer=customer).prefetch_related("rates").first()


def check_tax_rate(rate: TaxRate) -> None:
    """Every reason a rate can't be saved, on the field it concerns."""
    errors = {}
    if rate.rate is not None and rate.rate < 0:
        errors["rate"] = "A tax rate can't be negative."
    elif rate.rate is not None and rate.rate > 100:
        errors["rate"] = "A tax rate can't be over 100 %."
    if not re.fullmatch(r"[A-Z]{2}", rate.country or ""):
        errors["country"] = "Give the ISO 3166 two-letter country code, e.g. US or DE."
    if rate.valid_from and rate.valid_until and rate.valid_until < rate.valid_from:
        errors["valid_until"] = "The end date is before the start date."
    elif rate.valid_from and rate.name:
        overlapping = TaxRate.objects.filter(name=rate.name).exclude(pk=rate.pk)
        overlapping = overlapping.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=rate.valid_from))
        if rate.valid_until is not None:
            overlapping = overlapping.filter(valid_from__lte=rate.valid_until)
        other = overlapping.order_by("valid_from").first()
        if other is not None:
            until = other.valid_until.isoformat() if other.valid_until else "no end"
            errors["valid_from"] = (
                f'"{rate.name}" already has a rate of {other.rate.normalize():f} % from '
                f"{other.valid_from.isoformat()} to {until}; end it first or pick other dates."
            )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def do_save_tax_rate(actor, rate: TaxRate) -> TaxRate:
    """Create or change a rate (a change to a rate in use changes the tax of every open invoice and quote
    that uses it; a new rate from a date is a new version: end the old one and add one)."""
    rate.country = (rate.country or "").upper()
    before = {} if rate._state.adding else snapshot(TaxRate.objects.get(pk=rate.pk), RATE_FIELDS)
    check_tax_rate(rate)
    created = rate._state.adding
    rate.save()
    after = snapshot(rate, RATE_FIELDS)
    changes = after if created else changed_fields(before, after)
    if created or changes:
        record_activity(
            actor,
            "tax_rate.created" if created else "tax_rate.updated",
            f"{'Added' if created else 'Changed'} tax rate {rate}",
            obj=rate,
            changes={k: [None, v] for k, v in changes.items()} if created else changes,
        )
    return rate


def check_tax_profile(profile: TaxProfile, rates) -> None:
    errors = {}
    if profile.exempt and not profile.exemption_certificate.strip():
        errors["exemption_certificate"] = "A tax exemption needs the certificate number."
    if not profile.exempt and (profile.exemption_certificate.strip() or profile.exemption_expires):
        errors["exempt"] = 'Tick "tax exempt" to record an exemption, or clear its certificate and expiry.'
    unknown = set(profile.taxable_categories) - set(TaxCategory.values)
    if unknown:
        errors["taxable_categories"] = f"Unknown categories: {', '.join(sorted(unknown))}."
    ids = [r.pk for r in rates]
    if len(ids) != TaxRate.objects.filter(pk__in=ids).count():  # another reseller's rate, or a deleted one
        errors["rates"] = "Choose rates from your own tax rates."
    if errors:
        raise ValidationError(errors)


def _profile_snapshot(profile, rate_names):
    return {**snapshot(profile, PROFILE_FIELDS), "rates": rate_names}


@transaction.atomic
def do_save_tax_profile(actor, customer, **data) -> TaxProfile:
    """Create or update the customer's tax profile from the form's fields (`rates`: TaxRate rows)."""
    rates = list(data.pop("rates", []))
    profile = TaxProfile.objects.select_for_update().filter(customer=customer).first()
    created = profile is None
    if created:
        profile = TaxProfile(customer=customer)
        before = {}
    else:
        before = _profile_snapshot(profile, sorted(str(r) for r in profile.rates.all()))
    for field, value in data.items():
        if field not in PROFILE_FIELDS:
            raise TypeError(f"unexpected tax profile field {field}")
        setattr(profile, field, value)
    profile.taxable_categories = [c for c in TaxCategory.values if c in profile.taxable_categories]
    check_tax_profile(profile, rates)
    profile.updated_at = timezone.now()
    profile.save()
    profile.rates.set(rates)
    after = _profile_snapshot(profile, sorted(str(r) for r in rates))
    changes = {k: [None, v] for k, v in after.items()} if created else changed_fields(before, after)
    if changes:
        record_activity(
            actor,
            "tax_profile.created" if created else "tax_profile.updated",
            f"{'Set up' if created else 'Changed'} the tax profile of {customer}",
            obj=profile,
            customer=customer,
            changes=changes,
        )
    return profile
