"""The demo catalog: `seed_catalog(seed)`, called by `manage.py seed_demo` after the resellers exist.

Deterministic: the same seed gives the same catalog, prices, authorizations and pricebooks (prices
come from random.Random(seed), names and SKUs from the tables below). Safe to run again: catalog rows
are upserted by code and SKU, exchange rates by (currency, date), and a reseller's demo pricebooks
are only created when missing, so seed_demo --reset (which keeps platform-level rows) re-seeds cleanly.

What it makes:
* 7 providers (the 5 clouds of customers.CloudProvider, Acronis and Dropbox) with plan filter schemas,
  ~50 products, several hundred plans and a dozen add-ons. Amounts are USD per unit per billing
  period (an annual-billed plan's price is for the year);
* exchange rates for the resellers' currencies;
* for every reseller: authorizations (every provider; Dropbox for about half of them), hence the
  master pricebooks, a default pricebook per provider (a copy of the list-price master with a few
  rules), and a "Key accounts" pricebook for AWS and Microsoft 365 assigned to a few customers, plus
  one cloud-account override. These carry history from 2020 on, which the services (that only accept
  changes from the first open billing period) would refuse, so they are written directly.
"""

import random
from datetime import date
from decimal import Decimal

from django.db import transaction

from accounts.models import Reseller
from billing.models import ExchangeRate, Pricebook, PricebookAssignment, PricebookRule
from billing.models_pricebook import Method, Scope
from billing.services import do_create_pricebook
from customer360.money import quantize
from customer360.tenancy import tenant_scope
from customers.models import CloudAccount, Customer

from .models import AddOn, BillingFrequency, BillingTerm, Plan, Product, ProductType, Provider
from .services import do_authorize_provider

HISTORY = date(2020, 1, 1)
TERMS = [["monthly", "Monthly"], ["annual", "Annual"], ["three_year", "3 years"]]
COMMITMENT = [["none", "Pay as you go"], ["one_year", "1 year"], ["three_year", "3 years"]]

PROVIDERS = {
    "aws": ("AWS", "cloud", [
        {"key": "support_tier", "label": "Support tier", "choices": [
            ["none", "None"], ["developer", "Developer"], ["business", "Business"],
            ["enterprise_on_ramp", "Enterprise On-Ramp"], ["enterprise", "Enterprise"]]},
        {"key": "commitment", "label": "Commitment", "choices": COMMITMENT},
    ]),
    "azure": ("Microsoft Azure", "cloud", [
        {"key": "commitment", "label": "Commitment", "choices": COMMITMENT},
        {"key": "region", "label": "Region", "choices": [["us", "Americas"], ["eu", "Europe"], ["apac", "Asia Pacific"]]},
    ]),
    "m365": ("Microsoft 365", "licenses", [
        {"key": "term", "label": "Term", "required": True, "choices": TERMS},
        {"key": "billing", "label": "Billing frequency", "required": True,
         "choices": [["monthly", "Monthly"], ["annual", "Annual"]]},
        {"key": "segment", "label": "Segment", "required": True,
         "choices": [["commercial", "Commercial"], ["education", "Education"], ["nonprofit", "Nonprofit"]]},
    ]),
    "gcp": ("Google Cloud", "cloud", [
        {"key": "commitment", "label": "Commitment", "choices": COMMITMENT},
        {"key": "support", "label": "Support", "choices": [["standard", "Standard"], ["enhanced", "Enhanced"], ["premium", "Premium"]]},
    ]),
    "gws": ("Google Workspace", "licenses", [
        {"key": "plan_type", "label": "Plan type", "required": True,
         "choices": [["flexible", "Flexible (monthly)"], ["annual", "Annual commitment"]]},
    ]),
    "acronis": ("Acronis Cyber Protect Cloud", "saas", [
        {"key": "edition", "label": "Edition", "choices": [["standard", "Standard"], ["advanced", "Advanced"]]},
        {"key": "workload", "label": "Workload", "choices": [
            ["workstation", "Workstation"], ["server", "Server"], ["vm", "Virtual machine"], ["m365_seat", "Microsoft 365 seat"]]},
    ]),
    "dropbox": ("Dropbox", "saas", [
        {"key": "term", "label": "Term", "choices": [["monthly", "Monthly"], ["annual", "Annual"]]},
    ]),
}  # fmt: skip

M365 = [  # product, category, list price per user per month (annual term, commercial)
    ("Microsoft 365 Business Basic", "Productivity", "6.00"), ("Microsoft 365 Business Standard", "Productivity", "12.50"),
    ("Microsoft 365 Business Premium", "Productivity", "22.00"), ("Microsoft 365 Apps for business", "Productivity", "8.25"),
    ("Office 365 E1", "Productivity", "10.00"), ("Microsoft 365 E3", "Productivity", "36.00"),
    ("Microsoft 365 E5", "Productivity", "57.00"), ("Microsoft 365 F3", "Frontline", "8.00"),
    ("Exchange Online (Plan 1)", "Email", "4.00"), ("Exchange Online (Plan 2)", "Email", "8.00"),
    ("Microsoft Teams Essentials", "Collaboration", "4.00"), ("Visio Plan 1", "Apps", "5.00"), ("Visio Plan 2", "Apps", "15.00"),
    ("Project Plan 3", "Apps", "30.00"), ("Project Plan 5", "Apps", "55.00"), ("Power BI Pro", "Analytics", "10.00"),
    ("Microsoft Defender for Business", "Security", "3.00"), ("Microsoft 365 Copilot", "AI", "30.00"),
]  # fmt: skip
M365_TERMS = [
    ("monthly", "monthly", "1.20"),
    ("annual", "monthly", "1.05"),
    ("annual", "annual", "12"),
    ("three_year", "annual", "11.4"),
]  # (term, billing, multiplier of the monthly list price)
SEGMENTS = [("commercial", "1"), ("education", "0.45"), ("nonprofit", "0.75")]
GWS = [("Business Starter", "7.20"), ("Business Standard", "14.40"), ("Business Plus", "21.60"),
       ("Enterprise Standard", "27.00"), ("Enterprise Plus", "36.00"), ("Essentials Starter", "0.00"),
       ("Frontline Starter", "2.40")]  # fmt: skip
AWS_FAMILIES = ["m7i", "c7i", "r7i", "t3", "m6g", "c6g"]
AZURE_SERIES = ["Dv5", "Ev5", "Fsv2", "Bs"]
GCP_FAMILIES = ["e2", "n2", "c3"]
SIZES = [("large", 2), ("xlarge", 4), ("2xlarge", 8)]


class Catalog:
    def __init__(self, rng):
        self.rng, self.skus = rng, set()
        self.providers, self.products = {}, {}

    def provider(self, code):
        name, kind, schema = PROVIDERS[code]
        provider, _ = Provider.objects.update_or_create(
            code=code, defaults={"name": name, "kind": kind, "plan_filter_schema": schema, "is_active": True}
        )
        self.providers[code] = provider
        return provider

    def product(self, code, name, category, type_=ProductType.LICENSE):
        product, _ = Product.objects.update_or_create(
            provider=self.providers[code],
            name=name,
            defaults={"category": category, "type": type_, "is_active": True},
        )
        self.products[(code, name)] = product
        return product

    def cost(self, price, low="0.78", high="0.90"):
        """A reseller cost a little under list price, deterministic from the seed."""
        share = Decimal(low) + (Decimal(high) - Decimal(low)) * Decimal(self.rng.randrange(0, 101)) / 100
        return quantize(price * share, exp=Decimal("0.0001"))

    def plan(
        self,
        product,
        sku,
        name,
        price,
        attributes,
        term=BillingTerm.MONTHLY,
        freq=BillingFrequency.MONTHLY,
        **extra,
    ):
        price = quantize(Decimal(price), exp=Decimal("0.0001"))
        self.skus.add(sku)
        plan, _ = Plan.objects.update_or_create(sku=sku, defaults={
            "product": product, "name": name, "list_price": price, "unit_cost": self.cost(price),
            "attributes": attributes, "billing_term": term, "billing_frequency": freq, "is_active": True,
            "min_quantity": extra.get("min_quantity", 1), "max_quantity": extra.get("max_quantity"),
            "trial_available": extra.get("trial", False),
        })  # fmt: skip
        return plan

    def addon(self, product, sku, name, price, plans):
        addon, _ = AddOn.objects.update_or_create(sku=sku, defaults={
            "product": product, "name": name, "list_price": Decimal(price), "unit_cost": self.cost(Decimal(price)),
            "is_active": True,
        })  # fmt: skip
        addon.plans.set(plans)
        return addon


def _slug(text):
    return "".join(c for c in text.upper().replace(" ", "-") if c.isalnum() or c == "-")[:24]


def build_catalog(rng) -> Catalog:
    cat = Catalog(rng)
    for code in PROVIDERS:
        cat.provider(code)
    business = []
    for name, category, base in M365:
        product = cat.product("m365", name, category)
        for term, billing, factor in M365_TERMS:
            for segment, discount in SEGMENTS:
                sku = f"CFQ7-{_slug(name)}-{term[:2].upper()}{billing[0].upper()}-{segment[:3].upper()}"
                label = f"{name} ({dict(TERMS)[term].lower()}, billed {billing}, {segment})"
                plan = cat.plan(
                    product, sku, label, Decimal(base) * Decimal(factor) * Decimal(discount),
                    {"term": term, "billing": billing, "segment": segment},
                    term=term,
                    freq=billing, max_quantity=300 if "Business" in name else None, trial=term == "monthly",
                )  # fmt: skip
                if "Business" in name:
                    business.append(plan)
    extras = cat.product("m365", "Microsoft 365 add-ons", "Add-ons")
    for sku, name, price in [("M365-STORAGE-1GB", "Extra file storage (1 GB)", "0.20"),
                             ("M365-AUDIO-CONF", "Audio Conferencing", "4.00"),
                             ("M365-TEAMS-PHONE", "Teams Phone Standard", "8.00"),
                             ("M365-DEFENDER-O365-P1", "Defender for Office 365 (Plan 1)", "2.00")]:  # fmt: skip
        cat.addon(extras, sku, name, price, business)
    flexible = []
    for name, base in GWS:
        product = cat.product("gws", f"Google Workspace {name}", "Productivity")
        for plan_type, factor, term in [("flexible", "1", "monthly"), ("annual", "0.8333", "annual")]:
            plan = cat.plan(product, f"GWS-{_slug(name)}-{plan_type[:4].upper()}", f"{name} ({plan_type})",
                            Decimal(base) * Decimal(factor), {"plan_type": plan_type}, term=term, trial=plan_type == "flexible")  # fmt: skip
            flexible.append(plan)
    gws_extras = cat.product("gws", "Google Workspace add-ons", "Add-ons")
    cat.addon(gws_extras, "GWS-VOICE-STARTER", "Google Voice Starter", "10.00", flexible)
    cat.addon(gws_extras, "GWS-STORAGE-10TB", "Additional storage (10 TB pool)", "300.00", flexible)
    _clouds(cat, rng)
    _saas(cat)
    return cat


def _clouds(cat, rng):
    usage = cat.product("aws", "AWS usage", "Consumption", ProductType.CONSUMPTION)
    cat.plan(usage, "AWS-PAYG", "AWS pay as you go", "0", {"commitment": "none"}, term="none", freq="usage")
    support = cat.product("aws", "AWS Support", "Support")
    for tier, price in [
        ("developer", "29"),
        ("business", "100"),
        ("enterprise_on_ramp", "5500"),
        ("enterprise", "15000"),
    ]:
        cat.plan(support, f"AWS-SUPPORT-{tier.upper()}", f"AWS Support {tier.replace('_', ' ').title()}", price,
                 {"support_tier": tier, "commitment": "none"})  # fmt: skip
    for family in AWS_FAMILIES:
        product = cat.product("aws", f"EC2 Reserved Instances ({family})", "Compute")
        for size, vcpus in SIZES:
            hourly = Decimal(rng.randrange(30, 60)) / 1000 * vcpus
            for term, months, factor in [("one_year", 12, "0.62"), ("three_year", 36, "0.41")]:
                cat.plan(product, f"AWS-RI-{family.upper()}-{size.upper()}-{term[:3].upper()}",
                         f"{family}.{size} reserved, {months} months", hourly * 730 * Decimal(factor),
                         {"commitment": term, "support_tier": "none"}, term="annual" if months == 12 else "three_year")  # fmt: skip
    savings = cat.product("aws", "Compute Savings Plans", "Compute")
    for term in ("one_year", "three_year"):
        for commit in (100, 500, 1000, 5000):
            cat.plan(savings, f"AWS-SP-{commit}-{term[:3].upper()}", f"Savings Plan ${commit}/month, {term.replace('_', ' ')}",
                     commit, {"commitment": term}, term="annual" if term == "one_year" else "three_year")  # fmt: skip
    azure_plan = cat.product("azure", "Azure plan", "Consumption", ProductType.CONSUMPTION)
    cat.plan(
        azure_plan,
        "AZ-PLAN",
        "Azure plan (pay as you go)",
        "0",
        {"commitment": "none"},
        term="none",
        freq="usage",
    )
    for series in AZURE_SERIES:
        product = cat.product("azure", f"Reserved VM Instances ({series})", "Compute")
        for size, vcpus in SIZES:
            hourly = Decimal(rng.randrange(35, 65)) / 1000 * vcpus
            for region in ("us", "eu", "apac"):
                for term, factor in [("one_year", "0.60"), ("three_year", "0.40")]:
                    cat.plan(product, f"AZ-RVI-{series.upper()}-{size.upper()}-{region.upper()}-{term[:3].upper()}",
                             f"{series} {size} ({region}), {term.replace('_', ' ')}", hourly * 730 * Decimal(factor),
                             {"commitment": term, "region": region}, term="annual" if term == "one_year" else "three_year")  # fmt: skip
    gcp_usage = cat.product("gcp", "Google Cloud usage", "Consumption", ProductType.CONSUMPTION)
    cat.plan(
        gcp_usage,
        "GCP-PAYG",
        "Google Cloud pay as you go",
        "0",
        {"commitment": "none"},
        term="none",
        freq="usage",
    )
    gcp_support = cat.product("gcp", "Google Cloud Customer Care", "Support")
    for level, price in [("standard", "29"), ("enhanced", "500"), ("premium", "12500")]:
        cat.plan(
            gcp_support,
            f"GCP-CARE-{level.upper()}",
            f"Customer Care {level.title()}",
            price,
            {"support": level},
        )
    for family in GCP_FAMILIES:
        product = cat.product("gcp", f"Committed use discounts ({family})", "Compute")
        for vcpus in (4, 8, 16, 32):
            hourly = Decimal(rng.randrange(28, 50)) / 1000 * vcpus
            for term, factor in [("one_year", "0.63"), ("three_year", "0.45")]:
                cat.plan(product, f"GCP-CUD-{family.upper()}-{vcpus}-{term[:3].upper()}", f"{family} {vcpus} vCPU, {term.replace('_', ' ')}",
                         hourly * 730 * Decimal(factor), {"commitment": term}, term="annual" if term == "one_year" else "three_year")  # fmt: skip


def _saas(cat):
    protect = cat.product("acronis", "Cyber Protect", "Backup")
    plans = []
    for edition, factor in [("standard", "1"), ("advanced", "1.6")]:
        for workload, base in [
            ("workstation", "4.00"),
            ("server", "18.00"),
            ("vm", "12.00"),
            ("m365_seat", "1.20"),
        ]:
            plans.append(cat.plan(protect, f"ACR-{edition[:3].upper()}-{workload.upper()}", f"Cyber Protect {edition.title()} ({workload.replace('_', ' ')})",
                                  Decimal(base) * Decimal(factor), {"edition": edition, "workload": workload}, trial=True))  # fmt: skip
    cat.addon(protect, "ACR-STORAGE-1TB", "Acronis cloud storage (1 TB)", "45.00", plans)
    business = cat.product("dropbox", "Dropbox Business", "Collaboration")
    dropbox = []
    for tier, base in [("Standard", "15.00"), ("Advanced", "24.00"), ("Business Plus", "26.00")]:
        for term, factor, freq in [("monthly", "1", "monthly"), ("annual", "10", "annual")]:
            dropbox.append(cat.plan(business, f"DBX-{_slug(tier)}-{term[:1].upper()}", f"Dropbox {tier} ({term})", Decimal(base) * Decimal(factor),
                     {"term": term}, term=term, freq=freq, min_quantity=3))  # fmt: skip
    cat.addon(business, "DBX-DATA-GOVERNANCE", "Data Governance add-on", "5.00", dropbox)
    cat.addon(business, "DBX-BACKUP", "Dropbox Backup", "3.00", dropbox)


RATES = {"EUR": "0.92", "GBP": "0.79", "CAD": "1.36", "AUD": "1.52"}


def seed_rates(rng):
    for currency, base in RATES.items():
        for effective in (HISTORY, date(2024, 1, 1), date(2025, 1, 1), date(2025, 6, 1)):
            rate = Decimal(base) * (1 + Decimal(rng.randrange(-40, 41)) / 1000)
            ExchangeRate.objects.update_or_create(
                currency=currency,
                effective_date=effective,
                defaults={"rate": quantize(rate, exp=Decimal("0.0001"))},
            )


def _rule(book, scope=Scope.PROVIDER, method=Method.DISCOUNT, value="0", **target):
    PricebookRule.objects.create(pricebook=book, reseller_id=book.reseller_id, scope_type=scope, method=method,
                                 value=Decimal(value), valid_from=HISTORY, **target)  # fmt: skip


def seed_reseller(reseller, cat, rng):
    """Authorizations, master and default pricebooks, key-account books for one reseller."""
    with tenant_scope(reseller):
        codes = [c for c in PROVIDERS if c != "dropbox" or rng.random() < 0.5]
        for code in codes:
            provider = cat.providers[code]
            do_authorize_provider(None, reseller, provider)
            name = f"{provider.name} standard"
            if Pricebook.objects.filter(provider=provider, name=name).exists():
                continue
            master = Pricebook.objects.get(provider=provider, kind=Pricebook.Kind.MASTER_LIST)
            currency = reseller.default_currency if reseller.default_currency in RATES else "USD"
            book = do_create_pricebook(None, reseller, provider, name=name, currency=currency, valid_from=HISTORY,
                                       copy_from=master, description="Default prices for customers with no pricebook.")  # fmt: skip
            book.rules.all().delete()  # the copied 0 % rule; replaced by the reseller's own below
            if PROVIDERS[code][1] == "cloud":
                _rule(book, method=Method.MARKUP, value=str(rng.randrange(6, 15)))
                _rule(book, Scope.CATEGORY, Method.MARKUP, str(rng.randrange(3, 8)), category="Compute")
                _rule(
                    book,
                    Scope.SERVICE_CATEGORY,
                    Method.MARKUP,
                    str(rng.randrange(8, 20)),
                    service_category="Storage",
                )
            else:
                _rule(book, value=str(rng.randrange(0, 6)))
                product = rng.choice([p for (c, _), p in cat.products.items() if c == code])
                _rule(book, Scope.PRODUCT, Method.MARGIN, str(rng.randrange(12, 25)), product=product)
            PricebookAssignment.objects.create(reseller_id=reseller.pk, provider=provider, pricebook=book,
                                               valid_from=HISTORY, created_by="demo seed")  # fmt: skip
        _key_accounts(reseller, cat, rng, codes)


def _key_accounts(reseller, cat, rng, codes):
    customers = list(Customer.objects.order_by("name", "id")[:12])
    for code in ("aws", "m365"):
        provider = cat.providers[code]
        if code not in codes or Pricebook.objects.filter(provider=provider, name="Key accounts").exists():
            continue
        currency = reseller.default_currency if reseller.default_currency in RATES else "USD"
        book = do_create_pricebook(None, reseller, provider, name="Key accounts", currency=currency, valid_from=HISTORY,
                                   description="Deeper discounts for strategic customers.")  # fmt: skip
        if code == "aws":
            _rule(book, method=Method.MARKUP, value="4")
            _rule(book, Scope.SERVICE_NAME, Method.MARKUP, "2", service_name="Amazon EC2")
        else:
            _rule(book, value="12")
            _rule(book, Scope.PRODUCT, Method.MARGIN, "8", product=cat.products[("m365", "Microsoft 365 E3")])
        for customer in customers[:6] if code == "aws" else customers[3:9]:
            PricebookAssignment.objects.create(reseller_id=reseller.pk, provider=provider, pricebook=book,
                                               customer=customer, valid_from=HISTORY, created_by="demo seed")  # fmt: skip
    account = (
        CloudAccount.objects.filter(provider="aws", customer__in=customers[6:]).order_by("account_id").first()
    )
    if account is not None and "aws" in codes:
        cost = Pricebook.objects.get(provider=cat.providers["aws"], kind=Pricebook.Kind.MASTER_COST)
        PricebookAssignment.objects.get_or_create(
            reseller_id=reseller.pk, provider=cat.providers["aws"], cloud_account=account, customer_id=account.customer_id,
            defaults={"pricebook": cost, "valid_from": HISTORY, "created_by": "demo seed (internal account at cost)"},
        )  # fmt: skip


@transaction.atomic
def seed_catalog(seed: int) -> dict:
    """Seed the catalog, exchange rates and every existing reseller's authorizations and pricebooks."""
    rng = random.Random(f"{seed}/catalog")
    cat = build_catalog(rng)
    seed_rates(random.Random(f"{seed}/rates"))
    resellers = list(Reseller.objects.order_by("slug"))
    for reseller in resellers:
        seed_reseller(reseller, cat, random.Random(f"{seed}/{reseller.slug}/pricebooks"))
    return {"providers": len(cat.providers), "plans": len(cat.skus), "resellers": len(resellers)}
