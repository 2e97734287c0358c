"""Deterministic demo data for `manage.py seed_demo` (which writes it) and `manage.py bench_customers`.

Same arguments, same data: names and ids come from random.Random seeded per reseller, timestamps
from BASE_DATE (never now()). Customers, contacts and cloud accounts are generated as plain tuples in
COPY column order, so 200,000 customers can be written in well under two minutes.
"""

import random
import uuid
from bisect import bisect
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from django.contrib.contenttypes.models import ContentType

from accounts.models import Role

from .models import ActivityLog, Alert, CloudAccount, CloudProvider, Customer

BASE_DATE = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)
SUPERUSER_EMAIL = "admin@platform.example"
ROLES = [Role.OWNER, Role.SALES, Role.BILLING, Role.VIEWER]
LIVELY_CUSTOMERS = 200  # the first customers of each reseller get alerts and an activity log
CHUNK = 20_000  # customers per round of COPY statements

RESELLERS = [
    ("Northwind Cloud", "northwind", "USD"),
    ("Bluepeak Systems", "bluepeak", "GBP"),
    ("Harborline IT", "harborline", "EUR"),
    ("Maple Ridge Cloud", "mapleridge", "CAD"),
    ("Southern Cross Cloud", "southerncross", "AUD"),
    ("Summit Digital", "summit", "USD"),
    ("Tidewater Technology", "tidewater", "GBP"),
    ("Rheinland Cloud Services", "rheinland", "EUR"),
    ("Redwood Tech Partners", "redwood", "USD"),
    ("Ironbridge Computing", "ironbridge", "GBP"),
]

ADJ = """Blue Bright Silver Golden Red Green North South East West Summit Cedar Maple Oak Pine River
Lake Harbor Stone Iron Swift Clear Prime True Bold Alpine Coastal Copper Crystal Eagle Falcon Granite
Hill Lunar Solar Polar Nova Orbit Pioneer Quantum Rapid Sterling Titan Vertex Vista Willow Zenith
Atlas Beacon Crescent Delta Echo Ember Frontier Horizon Keystone Meadow Monarch Pacific Pinnacle
Redwood Riverside Sapphire Sequoia Skyline Trident Union Valley""".split()
NOUN = """Harbor Bridge Peak Field Point Ridge Wave Works Labs Forge Path Gate Line Stream Wood Stone
Light Crest Bay Brook Port Star Rock Mill Grove Spring Haven Shore Field Vale""".split()
INDUSTRY = """Logistics Analytics Engineering Foods Health Dental Legal Architects Consulting Media
Retail Manufacturing Construction Energy Pharma Robotics Software Systems Networks Capital Insurance
Realty Motors Textiles Apparel Furniture Brewing Farms Travel Hospitality Education Security Telecom
Design Marketing Printing Plastics Metals Chemicals Aerospace Marine Transport Freight Solar Water
Biotech Medical Clinics Studios Games Finance Accounting Recruitment Events Catering Fitness
Veterinary Optics Electronics Payments""".split()
SURNAMES = """Smith Johnson Williams Brown Jones Garcia Miller Davis Wilson Anderson Taylor Thomas Moore
Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Green
Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker Collins Edwards
Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard Ward Cox
Richardson Wood Watson Brooks Bennett Gray Hughes Price Sanders Patel Shah Khan Singh Chen Wang Nguyen
Kim Park Tanaka Sato Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Dubois
Bernard Laurent Moreau Rossi Russo Ferrari Bianchi Janssen Jansen Bakker Visser Smit Fernandez Lopez
Martinez Sanchez Perez Gomez Byrne Walsh Ryan""".split()
FIRST_NAMES = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark
Sandra Paul Ashley Steven Emily Andrew Michelle Joshua Amanda Kevin Melissa Brian Laura George Olivia
Priya Arjun Wei Mei Hiroshi Yuki Lukas Anna Jonas Lea Pierre Camille Marco Giulia Sven Sanne Carlos
Lucia Sean Aoife Liam Chloe Noah Emma Ravi Fatima Omar Layla""".split()
ENVS = ["prod", "dev", "staging", "data", "shared", "sandbox", "analytics", "web"]
ACCOUNT_LABELS = {
    "aws": ["Production", "Staging", "Development", "Sandbox", "Data platform", "Shared services"],
    "azure": ["Production", "Dev/Test", "Corporate IT", "Analytics", "Disaster recovery"],
    "gcp": ["Production", "Analytics", "ML experiments", "Web", "Staging"],
    "m365": ["Corporate tenant"],
    "gws": ["Primary domain"],
}
ENGLISH_STREET = "{n} {w} {t}"
ENGLISH_WORDS = "Oak Maple Market High Church Mill Station Park King Queen Bridge Harbour Cedar Elm".split()
# code: (weight, legal suffixes, tld, phone pattern, street pattern, street words, street types,
#        [(city, region, postal pattern)]).  In patterns "#" is a digit and "@" a capital letter.
COUNTRIES = {
    "US": (35, ["Inc", "LLC", "Corp"], "com", "+1 ### 555 ####", ENGLISH_STREET, ENGLISH_WORDS,
           ["Street", "Avenue", "Road", "Drive", "Boulevard"],
           [("Austin", "TX", "787##"), ("Seattle", "WA", "981##"), ("Denver", "CO", "802##"),
            ("Boston", "MA", "021##"), ("Chicago", "IL", "606##"), ("Atlanta", "GA", "303##"),
            ("San Jose", "CA", "951##"), ("New York", "NY", "100##")]),
    "GB": (15, ["Ltd", "Ltd", "PLC"], "co.uk", "+44 20 7946 0###", ENGLISH_STREET, ENGLISH_WORDS,
           ["Street", "Road", "Lane", "Place", "Square"],
           [("London", "England", "EC2A #@@"), ("Manchester", "England", "M1 #@@"),
            ("Leeds", "England", "LS1 #@@"), ("Edinburgh", "Scotland", "EH2 #@@"),
            ("Bristol", "England", "BS1 #@@")]),
    "DE": (10, ["GmbH", "GmbH", "AG"], "de", "+49 30 ########", "{w}straße {n}",
           "Linden Haupt Garten Bahnhof Schiller Goethe Kirch Berg".split(), [""],
           [("Berlin", "Berlin", "10###"), ("München", "Bayern", "80###"), ("Hamburg", "Hamburg", "20###"),
            ("Köln", "Nordrhein-Westfalen", "50###"), ("Frankfurt am Main", "Hessen", "60###")]),
    "CA": (8, ["Inc", "Ltd"], "ca", "+1 ### 555 ####", ENGLISH_STREET, ENGLISH_WORDS,
           ["Street", "Avenue", "Road"],
           [("Toronto", "ON", "M5V #@#"), ("Vancouver", "BC", "V6B #@#"), ("Montréal", "QC", "H3B #@#"),
            ("Calgary", "AB", "T2P #@#"), ("Ottawa", "ON", "K1P #@#")]),
    "AU": (7, ["Pty Ltd"], "com.au", "+61 2 5550 ####", ENGLISH_STREET, ENGLISH_WORDS,
           ["Street", "Road", "Parade", "Terrace"],
           [("Sydney", "NSW", "200#"), ("Melbourne", "VIC", "300#"), ("Brisbane", "QLD", "400#"),
            ("Perth", "WA", "600#")]),
    "FR": (7, ["SAS", "SARL"], "fr", "+33 1 ## ## ## ##", "{n} rue {w}",
           ["de la République", "Victor Hugo", "Lafayette", "des Lilas", "du Faubourg Saint-Honoré"], [""],
           [("Paris", "Île-de-France", "750##"), ("Lyon", "Auvergne-Rhône-Alpes", "690##"),
            ("Toulouse", "Occitanie", "310##"), ("Nantes", "Pays de la Loire", "440##")]),
    "NL": (6, ["B.V."], "nl", "+31 20 ### ####", "{w}straat {n}",
           "Keizers Heren Prinsen Kerk Molen Haven".split(), [""],
           [("Amsterdam", "Noord-Holland", "10## @@"), ("Rotterdam", "Zuid-Holland", "30## @@"),
            ("Utrecht", "Utrecht", "35## @@"), ("Eindhoven", "Noord-Brabant", "56## @@")]),
    "IE": (5, ["Ltd", "DAC"], "ie", "+353 1 ### ####", ENGLISH_STREET, ENGLISH_WORDS,
           ["Street", "Road", "Quay"],
           [("Dublin", "Leinster", "D02 @###"), ("Cork", "Munster", "T12 @###"),
            ("Galway", "Connacht", "H91 @###")]),
    "ES": (7, ["S.L.", "S.A."], "es", "+34 91 ### ## ##", "Calle {w} {n}",
           ["Mayor", "de Alcalá", "Serrano", "del Prado", "de Colón"], [""],
           [("Madrid", "Madrid", "280##"), ("Barcelona", "Cataluña", "080##"),
            ("Valencia", "Valencia", "460##"), ("Sevilla", "Andalucía", "410##")]),
}  # fmt: skip
COUNTRY_CURRENCY = {"US": "USD", "GB": "GBP", "CA": "CAD", "AU": "AUD"}  # the rest use EUR
HOME_COUNTRIES = {
    "USD": ["US"],
    "GBP": ["GB"],
    "CAD": ["CA"],
    "AUD": ["AU"],
    "EUR": ["DE", "FR", "NL", "IE", "ES"],
}
CREDIT_LIMITS = ["0.00", "2500.00", "5000.00", "10000.00", "25000.00", "50000.00", "100000.00"]


def _picker(weighted):
    """A function rng -> item drawing from {item: weight}; cheaper than rng.choices per call."""
    items, weights = list(weighted), list(accumulate(weighted.values()))
    total = weights[-1]
    return lambda rng: items[bisect(weights, rng.random() * total)]


pick_country = _picker({code: c[0] for code, c in COUNTRIES.items()})
pick_customer_status = _picker({"active": 82, "prospect": 9, "suspended": 5, "closed": 4})
pick_account_count = _picker({0: 10, 1: 30, 2: 30, 3: 15, 4: 10, 5: 5})  # mean 2.0
pick_provider = _picker({"aws": 30, "azure": 25, "m365": 20, "gcp": 15, "gws": 10})
pick_account_status = _picker({"active": 92, "suspended": 3, "provisioning": 3, "closed": 2})
pick_payment = _picker({"invoice": 60, "card": 25, "direct_debit": 15})


def _uuid(rng) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _fill(rng, pattern: str) -> str:
    """Replace each "#" of pattern with a digit and each "@" with a capital letter."""
    k = pattern.count("#")
    digits = iter(f"{rng.randrange(10**k):0{k}d}")
    return "".join(
        next(digits) if ch == "#" else chr(65 + rng.randrange(26)) if ch == "@" else ch for ch in pattern
    )


def reseller_specs(n: int) -> list[tuple[str, str, str]]:
    """(name, slug, currency) of the first n demo resellers; past the list, names get a number."""
    out = []
    for i in range(n):
        name, slug, currency = RESELLERS[i % len(RESELLERS)]
        round_ = i // len(RESELLERS)
        out.append(
            (f"{name} {round_ + 1}", f"{slug}{round_ + 1}", currency) if round_ else (name, slug, currency)
        )
    return out


def login_emails(slug: str) -> list[tuple[str, str]]:
    return [(role, f"{role}@{slug}.example") for role in ROLES]


class ResellerData:
    """Rows of one reseller's customers, contacts and cloud accounts, in COPY column order."""

    def __init__(self, reseller_id, currency: str, rng: random.Random, used_ids: dict):
        self.reseller_id = str(reseller_id)
        self.currency = currency
        self.rng = rng
        self.used = used_ids  # provider -> account ids already taken on the platform
        self.lively = []  # (customer row, contact row, account rows) of the first customers

    def company(self, country: str) -> tuple[str, str]:
        """(company name, lowercase key for domains and project ids)."""
        rng, c = self.rng, COUNTRIES[country]
        pattern = rng.randrange(10)
        if pattern < 4:
            a, b = rng.choice(ADJ), rng.choice(NOUN)
            name, key = f"{a} {b} {rng.choice(INDUSTRY)}", a + b
        elif pattern < 6:
            a, b = rng.choice(ADJ), rng.choice(NOUN).lower()
            name, key = f"{a}{b} {rng.choice(INDUSTRY)}", a + b
        elif pattern < 8:
            s = rng.choice(SURNAMES)
            name, key = f"{s} {rng.choice(INDUSTRY)}", s
        elif pattern < 9:
            s, t = rng.choice(SURNAMES), rng.choice(SURNAMES)
            name, key = f"{s} & {t}", s + t
        else:
            a, b = rng.choice(ADJ), rng.choice(NOUN).lower()
            name, key = a + b, a + b
        if rng.random() < 0.8:
            name = f"{name} {rng.choice(c[1])}"
        return name, key.lower()

    def account_id(self, provider: str, key: str, tld: str) -> str:
        rng, used = self.rng, self.used[provider]
        while True:
            if provider == "aws":
                value = f"{rng.randrange(10**12):012d}"
            elif provider == "azure":
                value = _uuid(rng)
            elif provider == "m365":
                value = f"{key[:20]}-{rng.randrange(10000, 100000)}.onmicrosoft.com"
            elif provider == "gcp":
                value = f"{key[:16]}-{rng.choice(ENVS)}-{rng.randrange(1000, 10000)}"
            else:
                value = f"{key[:24]}{rng.randrange(10, 10000)}.{tld}"
            if value not in used:
                used.add(value)
                return value

    def customers(self, n: int):
        """Yield (customer rows, contact rows, account rows) in chunks of CHUNK customers."""
        rng, rid, homes = self.rng, self.reseller_id, HOME_COUNTRIES[self.currency]
        for start in range(0, n, CHUNK):
            customers, contacts, accounts = [], [], []
            for i in range(start, min(n, start + CHUNK)):
                country = rng.choice(homes) if rng.random() < 0.7 else pick_country(rng)
                _w, _suffixes, tld, phone, street, words, types, cities = COUNTRIES[country]
                city, region, postal = rng.choice(cities)
                name, key = self.company(country)
                cid = _uuid(rng)
                created = BASE_DATE - timedelta(seconds=rng.randrange(3 * 365 * 86400))
                currency = self.currency if rng.random() < 0.85 else COUNTRY_CURRENCY.get(country, "EUR")
                line1 = street.format(n=rng.randrange(1, 400), w=rng.choice(words), t=rng.choice(types))
                line2 = f"{rng.choice(['Suite', 'Floor', 'Unit'])} {rng.randrange(1, 40)}"
                line2 = line2 if country in ("US", "GB", "CA", "AU", "IE") and rng.random() < 0.25 else ""
                limit = rng.choice(CREDIT_LIMITS)
                threshold = f"{float(limit) * 0.8:.2f}" if limit != "0.00" and rng.random() < 0.4 else None
                age = int((BASE_DATE - created).total_seconds())
                own = []
                for _ in range(pick_account_count(rng)):
                    provider = pick_provider(rng)
                    number = self.account_id(provider, key, tld)
                    label, status = rng.choice(ACCOUNT_LABELS[provider]), pick_account_status(rng)
                    opened = created + timedelta(seconds=rng.randrange(age))
                    own.append((_uuid(rng), rid, cid, provider, number, label, status, opened))
                # The list's denormalised columns, as services.refresh_customer_account_stats computes
                # them: closed accounts do not count.
                live = [a[3] for a in own if a[6] != "closed"]
                providers = "{" + ",".join(sorted(set(live))) + "}"
                row = (
                    cid, rid, name, pick_customer_status(rng), currency, line1.strip(), line2, city, region,
                    _fill(rng, postal), country, pick_payment(rng), rng.choice([14, 30, 30, 30, 45, 60]),
                    limit, threshold, providers, len(live), 0, "0.00", created,
                )  # fmt: skip
                first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
                email = f"{first.lower()}.{last.lower()}@{key}.{tld}"
                contact = (_uuid(rng), rid, cid, f"{first} {last}", email, _fill(rng, phone), True)
                customers.append(row)
                contacts.append(contact)
                accounts.extend(own)
                if i < LIVELY_CUSTOMERS:
                    self.lively.append((row, contact, own))
            yield customers, contacts, accounts


# COPY column order of the rows above (Customer.mtd_spend and active_subscription_count stay 0:
# no subscriptions or usage exist yet).
CUSTOMER_COLUMNS = [
    "id", "reseller_id", "name", "status", "currency", "address_line1", "address_line2", "city",
    "region", "postal_code", "country", "payment_method", "payment_terms_days", "credit_limit",
    "saas_credit_threshold", "providers", "cloud_account_count", "active_subscription_count",
    "mtd_spend", "created_at",
]  # fmt: skip
CONTACT_COLUMNS = ["id", "reseller_id", "customer_id", "name", "email", "phone", "is_admin"]
ACCOUNT_COLUMNS = [
    "id",
    "reseller_id",
    "customer_id",
    "provider",
    "account_id",
    "name",
    "status",
    "created_at",
]

ALERTS = [
    (Alert.Kind.GENERAL, Alert.Severity.INFO, "Welcome pack sent", "The onboarding pack went to {email}."),
    (Alert.Kind.GENERAL, Alert.Severity.WARNING, "Payment terms due for review",
     "Net {terms} days terms are up for their yearly review."),
    (Alert.Kind.ACCOUNT_REQUEST, Alert.Severity.INFO, "New cloud account requested",
     "{contact} asked for another {provider} account."),
    (Alert.Kind.PROVISIONING_FAILED, Alert.Severity.CRITICAL, "Provisioning failed",
     "Setting up the {provider} account '{label}' failed; retry from the cloud accounts tab."),
]  # fmt: skip
PROVIDER_LABELS = dict(CloudProvider.choices)


def activity(reseller, users: dict, lively: list, rng: random.Random):
    """(log entries, alerts) for the first customers, so their profiles look alive. Unsaved."""
    actors = [users[Role.OWNER], users[Role.OWNER], users[Role.SALES], users[Role.BILLING]]
    ct_customer = ContentType.objects.get_for_model(Customer)
    ct_account = ContentType.objects.get_for_model(CloudAccount)
    entries, alerts = [], []

    def when(after):
        return after + timedelta(seconds=rng.randrange(max(1, int((BASE_DATE - after).total_seconds()))))

    def log(customer, at, action, message, changes, account=None):
        actor = rng.choice(actors)
        obj_id, obj_repr = (
            (account[0], f"{PROVIDER_LABELS[account[3]]} {account[4]}") if account else customer[:3:2]
        )
        entries.append(
            ActivityLog(
                id=_uuid(rng),
                reseller=reseller,
                customer_id=customer[0],
                actor=actor,
                actor_label=actor.email,
                action=action,
                object_type=ct_account if account else ct_customer,
                object_id=str(obj_id),
                object_repr=obj_repr[:200],
                message=message[:300],
                changes=changes,
                created_at=at,
            )
        )

    for row, contact, accounts in lively:
        name, status, currency, terms, limit, created = row[2], row[3], row[4], row[12], row[13], row[19]
        first_status = "prospect" if status == "active" else status
        created_changes = {"name": [None, name], "status": [None, first_status], "currency": [None, currency]}
        log(row, created, "customer.created", f"Customer {name} created", created_changes)
        for account in accounts:
            provider, number = account[3], account[4]
            message = f"Linked {PROVIDER_LABELS[provider]} account {number}"
            changes = {"account_id": [None, number], "provider": [None, provider]}
            log(row, account[7], "cloud_account.linked", message, changes, account)
        if status == "active":
            log(row, when(created), "customer.updated", "Updated status", {"status": ["prospect", "active"]})
        if rng.random() < 0.5:
            before = rng.choice([v for v in CREDIT_LIMITS if v != limit])
            changes = {"credit_limit": [before, limit]}
            log(row, when(created), "customer.updated", "Updated credit_limit", changes)
        if rng.random() < 0.3 and terms != 30:
            changes = {"payment_terms_days": [30, terms]}
            log(row, when(created), "customer.updated", "Updated payment_terms_days", changes)
        for _ in range(rng.randrange(4)):
            kind, severity, title, text = rng.choice(ALERTS)
            account = rng.choice(accounts) if accounts else None
            if (account is None and kind != Alert.Kind.GENERAL) or (
                kind == Alert.Kind.PROVISIONING_FAILED and account[6] != "provisioning"
            ):
                continue
            provider, label = (PROVIDER_LABELS[account[3]], account[5]) if account else ("", "")
            message = text.format(
                email=contact[4], terms=terms, contact=contact[3], provider=provider, label=label
            )
            read, at = rng.random() < 0.5, when(created)
            alerts.append(
                Alert(
                    id=_uuid(rng),
                    reseller=reseller,
                    customer_id=row[0],
                    kind=kind,
                    severity=severity,
                    title=title,
                    message=message,
                    is_read=read,
                    read_at=when(at) if read else None,
                    created_at=at,
                )
            )
    return entries, alerts
