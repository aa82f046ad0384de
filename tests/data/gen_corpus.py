#!/usr/bin/python3
"""Generates the synthetic PII evaluation corpora for Zoll's detection rules.

    /usr/bin/python3 tests/data/gen_corpus.py          write both files
    /usr/bin/python3 tests/data/gen_corpus.py --check  exit 1 if the
                                                       checked-in files differ

Writes, next to this script:

  corpus_dev.jsonl  the development set (~800 entities) for tuning rules
  corpus.jsonl      the held-out test set (>= 2,000 entities)

One JSON object per line: {"id", "lang", "text", "entities"}, entities as
[{"start", "end", "entity"}] with BYTE offsets into the UTF-8 text, end
exclusive.  Everything is synthetic: names are drawn independently from first
and last name lists, addresses from invented street/number combinations,
e-mail domains are example.com/.de/.org/.net (or .example/.test), phone
numbers are random (US/UK ones in the 555-01xx / Ofcom drama ranges) and
every identifier is randomly generated with a valid check digit.

The two sets differ by seed and by phrasing: every block of alternative
phrasings below is split, alternative i goes to the dev set when i % 3 == 1
and to the test set otherwise (blocks with a single phrasing are shared), the
same split applies inside the composite slots (log lines, context words), and
the dev set draws names and streets from half of the lists only.

Determinism: only random.Random(seed) and lists (never set/dict-hash order),
so the output is byte-identical on every run.
"""

import argparse
import base64
import ipaddress
import json
import random
import re
import sys
import textwrap
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

TYPES = ["EMAIL", "PHONE", "IBAN", "CREDIT_CARD", "IP_ADDRESS", "DE_TAX_ID",
         "DE_SOCIAL_SECURITY", "DE_HEALTH_INSURANCE", "DE_ID_CARD",
         "DE_PASSPORT", "DE_VAT_ID", "DE_LICENSE_PLATE", "STREET_ADDRESS",
         "PERSON", "DATE_OF_BIRTH", "US_SSN", "SECRET"]

# ---------------------------------------------------------------------------
# Check digits
# ---------------------------------------------------------------------------

IBAN_LEN = {"DE": 22, "AT": 20, "CH": 21, "FR": 27, "NL": 18, "BE": 16,
            "ES": 24, "IT": 27, "GB": 22, "PL": 28, "LU": 20, "IE": 22,
            "DK": 18, "SE": 24, "PT": 25, "FI": 18, "NO": 15, "CZ": 24}


def iban_check(cc, bban):
    num = "".join(str(int(c, 36)) for c in bban + cc + "00")
    return 98 - int(num) % 97


def iban_valid(s):
    s = s.replace(" ", "")
    if len(s) < 5 or IBAN_LEN.get(s[:2]) != len(s) or not s[2:4].isdigit():
        return False
    if not re.fullmatch(r"[A-Z0-9]+", s):
        return False
    num = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(num) % 97 == 1


def luhn_sum(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10


def card_valid(s):
    d = re.sub(r"[ -]", "", s)
    if not d.isdigit() or luhn_sum(d) != 0:
        return False
    if d[0] == "4":
        return len(d) in (13, 16, 19)
    if 51 <= int(d[:2]) <= 55 or 2221 <= int(d[:4]) <= 2720:
        return len(d) == 16
    if d[:2] in ("34", "37"):
        return len(d) == 15
    if d.startswith("6011"):
        return len(d) == 16
    return False


def mod11_10(digits):
    """ISO/IEC 7064 MOD 11,10 check digit."""
    product = 10
    for ch in digits:
        s = (int(ch) + product) % 10
        if s == 0:
            s = 10
        product = (s * 2) % 11
    check = 11 - product
    return 0 if check == 10 else check


def taxid_valid(s):
    d = s.replace(" ", "")
    if not re.fullmatch(r"[1-9]\d{10}", d):
        return False
    counts = Counter(d[:10])
    if sorted(counts.values()) != [1] * 8 + [2]:
        return False
    return mod11_10(d[:10]) == int(d[10])


def vat_valid(s):
    return bool(re.fullmatch(r"DE[1-9]\d{8}", s)) and \
        mod11_10(s[2:10]) == int(s[10])


def letter_pos(c):
    return "%02d" % (ord(c) - 64)


def digit_sum(n):
    return sum(int(c) for c in str(n))


def rvnr_check(area, date6, letter, serial):
    digits = area + date6 + letter_pos(letter) + serial
    weights = [2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1]
    return sum(digit_sum(int(d) * w) for d, w in zip(digits, weights)) % 10


def rvnr_valid(s):
    c = s.replace(" ", "")
    m = re.fullmatch(r"(\d\d)(\d{6})([A-Z])(\d\d)(\d)", c)
    return bool(m) and rvnr_check(*m.groups()[:4]) == int(m.group(5))


def kvnr_check(letter, digits8):
    ds = letter_pos(letter) + digits8
    total = 0
    for i, ch in enumerate(ds):
        total += digit_sum(int(ch) * (1 if i % 2 == 0 else 2))
    return total % 10


def kvnr_valid(s):
    m = re.fullmatch(r"([A-Z])(\d{8})(\d)", s)
    return bool(m) and kvnr_check(m.group(1), m.group(2)) == int(m.group(3))


ID_ALPHABET = "CFGHJKLMNPRTVWXYZ0123456789"


def icao_check(s):
    total = 0
    for i, ch in enumerate(s):
        v = int(ch) if ch.isdigit() else ord(ch) - 55
        total += v * (7, 3, 1)[i % 3]
    return total % 10


def docnr_valid(s, first):
    return (len(s) == 10 and s[0] in first
            and all(c in ID_ALPHABET for c in s[:9])
            and s[9].isdigit() and icao_check(s[:9]) == int(s[9]))


ID_FIRST = "LMNPRTVWXYZ"
PASS_FIRST = "CFGHJK"


def ssn_valid(s):
    m = re.fullmatch(r"(\d{3})-(\d{2})-(\d{4})", s)
    if not m:
        return False
    a, g, n = m.groups()
    return a not in ("000", "666") and a[0] != "9" and g != "00" \
        and n != "0000"


# ---------------------------------------------------------------------------
# Name, street and place lists (invented combinations only)
# ---------------------------------------------------------------------------

FEMALE = """Anna Lea Marie Sophie Laura Julia Katharina Sabine Petra Claudia
Ursula Monika Jana Lena Hannah Emilia Johanna Franziska Birgit Annika Jutta
Greta Charlotte Mia Frieda Anna-Lena Marie-Luise Svenja Maren Ingrid Heike
Käthe Jördis Emily Olivia Sarah Jessica Emma Grace Chloe Megan Rachel Abigail
Lucy Ayşe Elif Zeynep Fatma Merve Büşra Aylin Dilara Agnieszka Katarzyna
Małgorzata Joanna Magdalena Zofia Fatima Layla Amira Yasmin Nour Mariam Giulia
Francesca Chiara Alessia Sofia Olga Ana Inês Jelena Milena Sanna Ingeborg
Siobhan Aoife Priya Mei""".split()

MALE = """Jonas Lukas Markus Thomas Michael Stefan Andreas Jürgen Klaus Uwe
Dieter Tobias Florian Sebastian Maximilian Felix Paul Leon Finn Moritz Björn
Sören Jörg Karl-Heinz Hans-Peter Günter Matthias Henrik James Oliver William
Jack Harry George Daniel Matthew Ryan Ethan Connor Liam Samuel Mehmet Mustafa
Emre Burak Can Murat Yusuf Ömer Hakan Serkan Piotr Krzysztof Tomasz Paweł
Łukasz Wojciech Ahmed Mohammed Omar Karim Khaled Hassan Youssef Tarek Marco
Luca Giuseppe Alessandro Matteo Dmitri Ivan Nikola Lars Pedro João Mateusz
Sean Rajesh Wei Kwame""".split()

SURNAMES = """Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz
Hoffmann Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz
Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt Werner Schmitz Krause
Meier Lehmann Köhler Weiß Jäger Groß Böhm Vogel Günther Kühn Roßmann Brandt
Haas Fuchs Scholz Engel Seidel Dietrich Kaiser Pohl Voß Ziegler Sommer
Müller-Lüdenscheidt Meier-Hansen Wagner-Nowak Krause-Jensen Berger-Yılmaz
Özdemir Yılmaz Kaya Demir Şahin Çelik Yıldız Aydın Öztürk Arslan Doğan Kılıç
Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński
Szymański Smith Johnson Williams Brown Jones Taylor Davies Evans Wilson Clark
Walker Wright Thompson Robinson Hughes O'Brien O'Connor McCarthy MacDonald
Fitzgerald Haddad Khalil Mansour Nasser Saleh Hamdan El-Amin Al-Masri Rossi
Russo Ferrari Esposito Bianchi Romano Colombo Ricci Jovanović Petrović Novák
Horvat Silva Santos Fernández García Dubois Lefèvre Jansen de Vries van Dijk
Nielsen Lindqvist Okafor Nguyen Patel Kowalewska""".split()
# multi-word surnames got split above; rejoin them
SURNAMES = [s for s in SURNAMES if s not in ("de", "van", "Vries", "Dijk")] \
    + ["de Vries", "van Dijk", "von Stein", "von der Heide"]

CITIES_DE = [("10115", "Berlin"), ("10437", "Berlin"), ("12043", "Berlin"),
             ("20095", "Hamburg"), ("22765", "Hamburg"), ("80331", "München"),
             ("81667", "München"), ("50667", "Köln"), ("50823", "Köln"),
             ("60311", "Frankfurt am Main"), ("70173", "Stuttgart"),
             ("40213", "Düsseldorf"), ("04109", "Leipzig"),
             ("01067", "Dresden"), ("90402", "Nürnberg"), ("28195", "Bremen"),
             ("30159", "Hannover"), ("44135", "Dortmund"), ("45127", "Essen"),
             ("53111", "Bonn"), ("69117", "Heidelberg"),
             ("79098", "Freiburg im Breisgau"), ("97070", "Würzburg"),
             ("18055", "Rostock"), ("24103", "Kiel"), ("99084", "Erfurt"),
             ("39104", "Magdeburg"), ("23552", "Lübeck"),
             ("37073", "Göttingen"), ("66111", "Saarbrücken"),
             ("35390", "Gießen"), ("90762", "Fürth"), ("48143", "Münster"),
             ("33602", "Bielefeld"), ("76133", "Karlsruhe"),
             ("68159", "Mannheim"), ("55116", "Mainz"),
             ("65183", "Wiesbaden"), ("93047", "Regensburg"),
             ("86150", "Augsburg"), ("14467", "Potsdam"),
             ("26122", "Oldenburg"), ("49074", "Osnabrück"), ("89073", "Ulm"),
             ("78462", "Konstanz"), ("83022", "Rosenheim"), ("07743", "Jena"),
             ("17489", "Greifswald"), ("1010", "Wien"), ("8010", "Graz"),
             ("8001", "Zürich"), ("4051", "Basel")]

STREET_BASES = """Haupt Bahnhof Garten Schul Kirch Berg Wald Linden Birken
Eichen Rosen Mühlen Wiesen Feld Sonnen Goethe Schiller Mozart Beethoven
Lessing Heine Uhland Fontane Kant Bismarck Tannen Ahorn Buchen Fichten
Drossel Amsel Lerchen Finken Brunnen Markt Post Rathaus Industrie Hafen Burg
Schloss Kloster Tal Höhen Bach Weiher Jäger Bäcker Schmiede Zeppelin Kaiser
König Gärtner Flieder Holunder Kastanien""".split()
STREET_SUFFIXES = ["straße"] * 6 + ["str."] * 3 + ["weg"] * 3 + \
    ["allee", "platz", "gasse", "ring", "damm", "ufer", "steig", "pfad"]
STREETS_NAMED = ["Karl-Marx-Straße", "Konrad-Adenauer-Allee",
                 "Rosa-Luxemburg-Str.", "Willy-Brandt-Platz",
                 "Heinrich-Heine-Weg", "Albert-Schweitzer-Str.",
                 "Friedrich-Ebert-Straße", "Max-Planck-Straße",
                 "Robert-Koch-Str.", "Sophie-Scholl-Weg", "Otto-Hahn-Ring",
                 "Gustav-Stresemann-Ring", "Clara-Zetkin-Straße",
                 "Bertha-von-Suttner-Platz", "Käthe-Kollwitz-Str.",
                 "Theodor-Heuss-Allee"]
STREETS_PREFIX = ["Am Markt", "Am Sonnenhang", "An der Alster",
                  "Zum Steinbruch", "Unter den Linden", "Auf dem Kamp",
                  "Im Winkel", "In den Gärten", "Am Mühlbach",
                  "An der Kirche", "Hinter der Mauer", "Zur Linde",
                  "Am Schloßberg", "Auf der Höhe", "Im Grund", "Am Hang",
                  "An den Teichen", "Zum Bahnhof"]
STREETS_ADJ = ["Alte Poststraße", "Lange Reihe", "Große Bergstraße",
               "Kleine Rittergasse", "Neuer Wall", "Berliner Straße",
               "Frankfurter Allee", "Hamburger Str.", "Münchner Straße",
               "Kölner Weg", "Leipziger Platz", "Dresdner Str.",
               "Hohe Straße", "Breite Gasse", "Neue Str.", "Alter Markt",
               "Schwäbische Straße", "Obere Grabenstraße"]

EN_STREET_NAMES = """Baker Oak Maple Elm Cedar Pine Church Station Victoria
King Queen High Park Mill Bridge Chestnut Willow Hillcrest Lakeview Sunset
Riverside Washington Lincoln Jefferson Madison Franklin Highland Meadow
Orchard Greenwood Mulberry Hawthorn Primrose Ashgrove Evergreen Juniper
Sycamore Birch Magnolia Harbor""".split()
US_TYPES = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd",
            "Lane", "Drive", "Court", "Way", "Place", "Terrace"]
UK_TYPES = ["Street", "Road", "Lane", "Close", "Crescent", "Gardens",
            "Avenue", "Grove", "Terrace", "Mews", "Square", "Place"]
US_CITIES = [("Springfield", "IL", "62704"), ("Austin", "TX", "78701"),
             ("Portland", "OR", "97205"), ("Denver", "CO", "80202"),
             ("Boston", "MA", "02110"), ("Seattle", "WA", "98101"),
             ("San Francisco", "CA", "94107"), ("Chicago", "IL", "60601"),
             ("New York", "NY", "10001"), ("Brooklyn", "NY", "11201"),
             ("Madison", "WI", "53703"), ("Columbus", "OH", "43215"),
             ("Raleigh", "NC", "27601"), ("Phoenix", "AZ", "85004"),
             ("Atlanta", "GA", "30303"), ("Minneapolis", "MN", "55401"),
             ("Pittsburgh", "PA", "15222"), ("Ann Arbor", "MI", "48104"),
             ("Washington", "DC", "20001")]
UK_CITIES = [("London", "SW1A 2AA"), ("London", "NW1 6XE"),
             ("London", "EC1A 1BB"), ("London", "E1 6AN"),
             ("Manchester", "M1 1AE"), ("Leeds", "LS1 4AP"),
             ("Bristol", "BS1 5TR"), ("Edinburgh", "EH1 1YZ"),
             ("Cambridge", "CB2 1TN"), ("Oxford", "OX1 2JD"),
             ("Brighton", "BN1 1AE"), ("Glasgow", "G1 1XQ"),
             ("Cardiff", "CF10 1EP"), ("Belfast", "BT1 5GS")]

COMPANIES = ["Nordlicht Software GmbH", "Alpenblick Reisen AG",
             "Rheinwerk Logistik GmbH", "Blauwal Analytics",
             "Sonnenhof Pflege gGmbH", "Hansa Möbelhandel KG",
             "Brückner & Partner Steuerberatung", "Weber & Söhne GmbH",
             "Kiebitz Solar GmbH", "Elbtal Bau GmbH", "Fjordline Consulting",
             "Grünspan Mediengruppe", "Quantum Leaf Ltd", "Acme Corp",
             "Initech Inc.", "Globex Corporation", "Tannhäuser Tech SE",
             "Bergmann Logistik GmbH", "Südstern Energie AG",
             "Polarstern Versand GmbH", "Harbor & Finch LLP",
             "Bluebird Analytics Ltd", "Lindwurm Games GmbH",
             "Zugspitz Immobilien GmbH", "Falkenrot Druck OHG"]
KASSEN = ["TK", "AOK Bayern", "Barmer", "DAK-Gesundheit", "IKK classic",
          "KKH", "hkk", "AOK Nordost", "BKK firmus", "Knappschaft"]
PRODUCTS = ["Microsoft Teams", "Outlook", "SAP", "Jira", "Confluence",
            "Kubernetes", "PostgreSQL", "Docker", "Grafana", "ChatGPT",
            "Excel", "Slack", "Zoom", "DATEV", "Lexoffice", "Alexa", "Siri",
            "WordPress", "Shopify", "Terraform"]

PLATE_AREAS = ["B", "M", "HH", "K", "F", "S", "D", "DO", "E", "HB", "H", "L",
               "DD", "KA", "MA", "N", "A", "BN", "AC", "MS", "KI", "HRO",
               "GÖ", "LÖ", "TÜ", "MÜ", "FÜ", "BÖ", "OF", "WI", "MZ", "HD",
               "FR", "UL", "RO", "PB", "BI", "OS", "OL", "LG", "SN", "CB",
               "EF", "J", "GI", "DA", "KS", "PM", "LB", "ES"]

MONTHS_DE = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli",
             "August", "September", "Oktober", "November", "Dezember"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July",
             "August", "September", "October", "November", "December"]

TRANSLIT = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ı": "i", "ş": "s",
            "ğ": "g", "ç": "c", "ł": "l", "ś": "s", "ń": "n", "ó": "o",
            "ż": "z", "ź": "z", "ą": "a", "ę": "e", "ć": "c", "é": "e",
            "è": "e", "ë": "e", "ã": "a", "ê": "e", "í": "i", "á": "a",
            "ô": "o", "ć": "c", "š": "s", "č": "c", "ž": "z"}


def ascii_fold(s):
    s = s.lower()
    return "".join(TRANSLIT.get(c, c) for c in s)


def slug(s):
    return re.sub(r"[^a-z0-9]", "", ascii_fold(s))


# ---------------------------------------------------------------------------
# Generation machinery
# ---------------------------------------------------------------------------

SLOT_RE = re.compile(r"\[\[(\w+)(?::(\w+))?\]\]")
SLOTS = {}


def slot(*names):
    def reg(fn):
        for n in names:
            SLOTS[n] = fn
        return fn
    return reg


def V(value, label=None):
    """A finished value: one part, labelled or not."""
    return [(value, label)]


def D(s):
    """A dedented multi-line template."""
    return textwrap.dedent(s).strip("\n")


class Opt:
    """A block that appears with probability p."""

    def __init__(self, p, alts):
        self.p, self.alts = p, alts


class Scn:
    def __init__(self, name, lang, blocks, sep="\n\n", weight=1.0,
                 neg=False):
        self.name, self.lang, self.blocks = name, lang, blocks
        self.sep, self.weight, self.neg = sep, weight, neg


class Person:
    def __init__(self, gender, first, last, dob):
        self.gender, self.first, self.last, self.dob = gender, first, last, dob
        self.email = None
        self.title = None


class Gen:
    """All random choices of one corpus; `split` selects phrasings."""

    def __init__(self, split, seed):
        self.split = split
        self.rng = random.Random(seed)
        dev = split == "dev"
        half = (lambda xs: xs[1::2]) if dev else (lambda xs: xs)
        self.female, self.male = half(FEMALE), half(MALE)
        self.surnames = half(SURNAMES)
        self.street_bases = half(STREET_BASES)
        self.en_streets = half(EN_STREET_NAMES)

    def pick(self, alts):
        """One phrasing from this split's share of the alternatives."""
        if isinstance(alts, str):
            return alts
        if len(alts) == 1:
            return alts[0]
        dev = self.split == "dev"
        sub = [a for i, a in enumerate(alts) if (i % 3 == 1) == dev]
        return self.rng.choice(sub)

    def new_person(self, gender=None):
        r = self.rng
        g = gender or r.choice("fm")
        first = r.choice(self.female if g == "f" else self.male)
        last = r.choice(self.surnames)
        if g == "f" and last.endswith(("ski", "cki")):
            last = last[:-1] + "a"
        if g == "m" and last.endswith("ska"):
            last = last[:-1] + "i"
        dob = (r.randint(1946, 2005), r.randint(1, 12), r.randint(1, 28))
        return Person(g, first, last, dob)


class Doc:
    def __init__(self, gen, lang):
        self.g, self.rng, self.lang = gen, gen.rng, lang
        self.people = {}
        self.negatives = 0

    def pick(self, alts):
        return self.g.pick(alts)

    def person(self, key=None, gender=None):
        """The document's person `key` ('p1'); 'p1f' / 'p1m' is the same
        person, created female / male if it does not exist yet."""
        if key is None:
            return self.g.new_person(gender)
        if key[-1] in "fm":
            gender = gender or key[-1]
            key = key[:-1]
        if key not in self.people:
            self.people[key] = self.g.new_person(gender)
        return self.people[key]


def render(d, template):
    parts, pos = [], 0
    for m in SLOT_RE.finditer(template):
        if m.start() > pos:
            parts.append((template[pos:m.start()], None))
        out = SLOTS[m.group(1)](d, m.group(2))
        parts += render(d, out) if isinstance(out, str) else out
        pos = m.end()
    if pos < len(template):
        parts.append((template[pos:], None))
    return parts


def digits(r, n, first_nonzero=False):
    s = "".join(r.choice("0123456789") for _ in range(n))
    if first_nonzero and n:
        s = r.choice("123456789") + s[1:]
    return s


def pairs(s):
    """'123456' -> '12 34 56', odd lengths start with three digits."""
    out = []
    if len(s) % 2:
        out.append(s[:3])
        s = s[3:]
    out += [s[i:i + 2] for i in range(0, len(s), 2)]
    return " ".join(out)


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

def make_phone_de(r):
    mp = r.choice(["151", "152", "157", "159", "160", "162", "163", "170",
                   "171", "172", "173", "175", "176", "177", "178", "179"])
    mr = digits(r, r.choice([7, 7, 8]), True)
    area = r.choice(["30", "40", "89", "221", "69", "711", "341", "351",
                     "201", "211", "231", "421", "511", "911", "228",
                     "6221", "761", "931", "381", "431", "361", "391",
                     "451", "551", "3328", "8031"])
    local = digits(r, max(4, 9 - len(area) + r.choice([-1, 0, 0, 1])), True)
    f = r.randrange(15)
    return [f"+49 {mp} {mr}",
            f"+49 {area} {local}",
            f"0049 {area} {local}",
            f"0{area}/{local}",
            f"(0{area}) {pairs(local)}",
            f"+49 (0){area} {local}",
            f"0{mp}-{mr}",
            f"0{mp} {mr}",
            f"0{mp}/{mr}",
            f"+49{mp}{mr}",
            f"+49 {mp} {mr[:3]} {pairs(mr[3:])}",
            f"0{area} {local}",
            f"0{area} {local[:3]} {local[3:]}",
            f"0{area}-{local}",
            f"0{mp} {mr[:3]} {mr[3:]}"][f]


def make_phone_us(r):
    area = r.choice(["415", "212", "312", "617", "206", "512", "303", "646",
                     "202", "773", "503", "404"])
    n = "01" + digits(r, 2)
    return r.choice([f"+1 {area} 555 {n}", f"+1 ({area}) 555-{n}",
                     f"({area}) 555-{n}", f"{area}-555-{n}",
                     f"+1-{area}-555-{n}", f"+1 {area}-555-{n}"])


def make_phone_uk(r):
    x = digits(r, 3)
    return r.choice([f"+44 20 7946 0{x}", f"020 7946 0{x}",
                     f"+44 161 496 0{x}", f"0161 496 0{x}",
                     f"+44 7700 900{x}", f"07700 900{x}",
                     f"+44 (0)20 7946 0{x}"])


def make_phone_other(r):
    d = lambda n: digits(r, n, True)  # noqa: E731
    return r.choice([
        f"+33 {r.choice('123456789')} {d(2)} {d(2)} {d(2)} {d(2)}",
        f"+43 1 {d(7)}", f"+43 664 {d(7)}",
        f"+41 44 {d(3)} {d(2)} {d(2)}", f"+41 79 {d(3)} {d(2)} {d(2)}",
        f"+31 20 {d(3)} {d(4)}", f"+31 6 {d(8)}",
        f"+48 22 {d(3)} {d(2)} {d(2)}", f"+48 {d(3)} {d(3)} {d(3)}",
        f"+39 02 {d(8)}", f"+34 91 {d(3)} {d(2)} {d(2)}",
        f"+90 212 {d(3)} {d(2)} {d(2)}", f"+90 532 {d(3)} {d(2)} {d(2)}",
        f"+353 1 {d(3)} {d(4)}"])


def make_phone(r, lang):
    x = r.random()
    if lang == "de":
        if x < 0.78:
            return make_phone_de(r)
        return make_phone_other(r) if x < 0.93 else make_phone_uk(r)
    if x < 0.4:
        return make_phone_us(r)
    if x < 0.65:
        return make_phone_uk(r)
    return make_phone_de(r) if x < 0.85 else make_phone_other(r)


def make_iban(r, cc):
    n = IBAN_LEN[cc] - 4
    up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if cc == "NL":
        bban = r.choice(["ABNA", "INGB", "RABO", "TRIO", "SNSB"]) + \
            digits(r, 10)
    elif cc == "GB":
        bban = r.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + \
            digits(r, 14)
    elif cc == "IE":
        bban = r.choice(["AIBK", "BOFI"]) + digits(r, 14)
    elif cc == "IT":
        bban = r.choice(up) + digits(r, 22)
    elif cc == "DE":
        bban = r.choice("12345678") + digits(r, 17)
    else:
        bban = digits(r, n)
    assert len(bban) == n, cc
    return f"{cc}{iban_check(cc, bban):02d}{bban}"


def group4(s):
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def fmt_iban(r, s):
    return group4(s) if r.random() < 0.6 else s


def make_iban_any(r, lang):
    if lang == "de" and r.random() < 0.7:
        cc = "DE"
    else:
        cc = r.choice(["DE", "DE", "AT", "FR", "NL", "BE", "ES", "IT", "CH",
                       "GB", "PL", "LU", "IE", "DK", "SE", "PT", "FI", "NO"])
    return fmt_iban(r, make_iban(r, cc))


def luhn_complete(r, prefix, length):
    body = prefix + digits(r, length - len(prefix) - 1)
    for c in "0123456789":
        if luhn_sum(body + c) == 0:
            return body + c
    raise AssertionError


def fmt_card(r, num):
    sep = r.choice([" ", " ", " ", "-", ""])
    if len(num) == 15:
        return sep.join([num[:4], num[4:10], num[10:]])
    return sep.join(num[i:i + 4] for i in range(0, len(num), 4))


def make_card_raw(r):
    x = r.random()
    if x < 0.38:
        return luhn_complete(r, "4", 16)
    if x < 0.55:
        return luhn_complete(r, str(r.randint(51, 55)), 16)
    if x < 0.68:
        return luhn_complete(r, str(r.randint(2221, 2720)), 16)
    if x < 0.85:
        return luhn_complete(r, r.choice(["34", "37"]), 15)
    return luhn_complete(r, "6011", 16)


def make_ipv4(r):
    x = r.random()
    o = lambda: r.randint(1, 254)  # noqa: E731
    if x < 0.2:
        return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{o()}"
    if x < 0.35:
        return f"192.168.{r.randint(0, 255)}.{o()}"
    if x < 0.45:
        return f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{o()}"
    if x < 0.65:
        return r.choice(["192.0.2", "198.51.100", "203.0.113"]) + f".{o()}"
    first = r.choice([23, 31, 45, 46, 62, 77, 78, 81, 84, 85, 87, 91, 93,
                      95, 109, 128, 141, 145, 151, 176, 178, 185, 188,
                      193, 194, 195, 212, 213, 217])
    return f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{o()}"


def make_ipv6(r):
    h = lambda: "%x" % r.randint(1, 0xffff)  # noqa: E731
    x = r.random()
    if x < 0.45:
        groups = ["2001", "db8"] + [h() for _ in range(6)]
        for i in r.sample(range(2, 8), r.randint(1, 4)):
            groups[i] = "0"
    elif x < 0.65:
        groups = ["fe80", "0", "0", "0"] + [h() for _ in range(4)]
    elif x < 0.9:
        groups = [r.choice(["2a02", "2a01", "2003", "2a00", "2600", "2606"]),
                  h(), h(), h()] + [h() for _ in range(4)]
        if r.random() < 0.5:
            groups[4] = groups[5] = "0"
    else:
        groups = ["2001", "db8"] + [h() for _ in range(6)]
        return ipaddress.IPv6Address(":".join(groups)).exploded
    return ipaddress.IPv6Address(":".join(groups)).compressed


def make_taxid_digits(r):
    while True:
        ds = list("0123456789")
        r.shuffle(ds)
        rest = ds[1:]
        ten = rest + [r.choice(rest)]
        r.shuffle(ten)
        if ten[0] != "0":
            s = "".join(ten)
            return s + str(mod11_10(s))


def fmt_taxid(r, s):
    return s if r.random() < 0.6 else f"{s[:2]} {s[2:5]} {s[5:8]} {s[8:]}"


RV_AREAS = ["02", "03", "04", "08", "09", "10", "11", "12", "13", "14", "15",
            "16", "17", "18", "19", "20", "21", "23", "24", "25", "26", "28",
            "29", "38", "39", "40", "42", "43", "44", "45", "46", "48", "49",
            "50", "52", "53", "55", "56", "58", "60", "61", "63", "64", "65",
            "66", "68", "70", "72", "78", "79", "80", "81", "82", "89"]


def make_rvnr(r, p):
    y, m, d = p.dob
    date6 = "%02d%02d%02d" % (d, m, y % 100)
    letter = ascii_fold(p.last.replace("von ", "").replace("van ", "")
                        .replace("de ", ""))[0].upper()
    if not letter.isalpha():
        letter = "X"
    serial = "%02d" % (r.randint(0, 49) if p.gender == "m"
                       else r.randint(50, 99))
    area = r.choice(RV_AREAS)
    c = rvnr_check(area, date6, letter, serial)
    if r.random() < 0.65:
        return f"{area}{date6}{letter}{serial}{c}"
    return f"{area} {date6} {letter} {serial}{c}"


def make_kvnr(r):
    letter = r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    d8 = digits(r, 8, True)
    return f"{letter}{d8}{kvnr_check(letter, d8)}"


def make_docnr(r, first):
    letters = "CFGHJKLMNPRTVWXYZ"
    body = r.choice(first)
    for _ in range(8):
        body += r.choice(letters) if r.random() < 0.22 else \
            r.choice("0123456789")
    return body + str(icao_check(body))


def make_vat(r):
    s = r.choice("123456789") + digits(r, 7)
    return f"DE{s}{mod11_10(s)}"


def make_plate(r):
    area = r.choice(PLATE_AREAS)
    while True:
        letters = "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
                          for _ in range(r.choice([1, 2, 2])))
        if letters not in ("SS", "SA", "KZ", "HJ", "NS", "SD"):
            break
    room = 8 - len(area) - len(letters)
    n = str(r.randint(1, 10 ** min(4, room) - 1))
    suffix = ""
    if len(area) + len(letters) + len(n) < 8 and r.random() < 0.12:
        suffix = r.choice("EEH")
    sep = "-" if r.random() < 0.75 else " "
    return f"{area}{sep}{letters} {n}{suffix}"


def make_ssn(r):
    while True:
        a = r.randint(1, 899)
        if a != 666:
            break
    return "%03d-%02d-%04d" % (a, r.randint(1, 99), r.randint(1, 9999))


B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64U = B62 + "-_"


def rand_str(r, n, alphabet=B62):
    """n random characters; upper, lower case and digits all present when
    the alphabet has them (secrets look 'mixed')."""
    need = [c for c in (r"[A-Z]", r"[a-z]", r"\d") if re.search(c, alphabet)]
    while True:
        s = "".join(r.choice(alphabet) for _ in range(n))
        if all(re.search(c, s) for c in need):
            return s


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(r):
    alg = r.choice(["HS256", "HS256", "RS256", "ES256"])
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"},
                             separators=(",", ":")).encode())
    iat = r.randint(1700000000, 1760000000)
    payload = {"sub": str(r.randint(10000, 999999)), "iat": iat,
               "exp": iat + r.choice([900, 3600, 86400])}
    if r.random() < 0.5:
        payload["scope"] = r.choice(["read write", "orders:read",
                                     "admin", "api"])
    if r.random() < 0.4:
        payload["iss"] = r.choice(["https://auth.example.com",
                                   "https://login.example.de/realms/intern"])
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = b64url(bytes(r.randrange(256) for _ in range(
        32 if alg == "HS256" else 64)))
    return f"{head}.{body}.{sig}"


def make_secret(r, kind=None):
    kind = kind or r.choice(["openai", "openai", "anthropic", "aws", "github",
                             "slack", "google"])
    if kind == "openai":
        if r.random() < 0.6:
            return "sk-proj-" + rand_str(r, r.randint(40, 72), B64U) + \
                "T3BlbkFJ" + rand_str(r, r.randint(20, 60), B64U)
        return "sk-" + rand_str(r, 20) + "T3BlbkFJ" + rand_str(r, 20)
    if kind == "anthropic":
        return "sk-ant-api03-" + rand_str(r, 93, B64U) + "AA"
    if kind == "aws":
        return "AKIA" + "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                                for _ in range(16))
    if kind == "github":
        return "ghp_" + rand_str(r, 36)
    if kind == "slack":
        return "xoxb-%d-%d-%s" % (r.randint(10 ** 10, 10 ** 12),
                                  r.randint(10 ** 12, 10 ** 13),
                                  rand_str(r, 24))
    if kind == "google":
        return "AIza" + rand_str(r, 35, B64U)
    raise ValueError(kind)


PEM_HEADS = {"RSA PRIVATE KEY": "MIIEowIBAAKCAQEA", "PRIVATE KEY":
             "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "EC PRIVATE KEY":
             "MHcCAQEEI", "OPENSSH PRIVATE KEY": "b3BlbnNzaC1rZXktdjEAAAAA",
             "ENCRYPTED PRIVATE KEY": "MIIFHDBOBgkqhkiG9w0BBQ0wQTAp"}


def make_pem(r, kind=None, nl="\n", lines=None):
    kind = kind or r.choice(["RSA PRIVATE KEY", "PRIVATE KEY",
                             "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
                             "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"])
    b64 = B62 + "+/"
    width = 70 if kind == "OPENSSH PRIVATE KEY" else 64
    n = lines or (2 if kind == "EC PRIVATE KEY" else r.randint(4, 9))
    body = PEM_HEADS[kind] + "".join(r.choice(b64) for _ in range(
        width * n - len(PEM_HEADS[kind])))
    rows = [body[i:i + width] for i in range(0, len(body), width)]
    tail = "".join(r.choice(b64) for _ in range(r.randint(8, 60)))
    rows.append(tail + r.choice(["", "=", "=="]))
    return (f"-----BEGIN {kind}-----{nl}" + nl.join(rows) +
            f"{nl}-----END {kind}-----")


def make_cert(r):
    b64 = B62 + "+/"
    rows = ["MIID" + "".join(r.choice(b64) for _ in range(60))] + \
        ["".join(r.choice(b64) for _ in range(64)) for _ in range(
            r.randint(3, 6))] + \
        ["".join(r.choice(b64) for _ in range(r.randint(10, 50))) + "=="]
    kind = r.choice(["CERTIFICATE", "CERTIFICATE", "PUBLIC KEY"])
    return f"-----BEGIN {kind}-----\n" + "\n".join(rows) + \
        f"\n-----END {kind}-----"


def de_street(g):
    r = g.rng
    x = r.random()
    if x < 0.55:
        return r.choice(g.street_bases) + r.choice(STREET_SUFFIXES)
    if x < 0.7:
        return r.choice(STREETS_NAMED)
    if x < 0.85:
        return r.choice(STREETS_PREFIX)
    return r.choice(STREETS_ADJ)


def house_no(r):
    n = str(r.choice([r.randint(1, 30), r.randint(1, 30), r.randint(1, 160)]))
    x = r.random()
    if x < 0.13:
        return n + r.choice("abcd")
    if x < 0.18:
        return f"{n}-{int(n) + r.choice([1, 2])}"
    return n


def make_dob_date(r):
    return (r.randint(1946, 2005), r.randint(1, 12), r.randint(1, 28))


def fmt_date_de(r, ymd):
    y, m, d = ymd
    x = r.random()
    if x < 0.55:
        return "%02d.%02d.%04d" % (d, m, y)
    if x < 0.65:
        return "%d.%d.%04d" % (d, m, y)
    if x < 0.85:
        return "%d. %s %d" % (d, MONTHS_DE[m - 1], y)
    return "%04d-%02d-%02d" % (y, m, d)


def fmt_date_en(r, ymd):
    y, m, d = ymd
    x = r.random()
    if x < 0.25:
        return "%s %d, %d" % (MONTHS_EN[m - 1], d, y)
    if x < 0.4:
        return "%d %s %d" % (d, MONTHS_EN[m - 1], y)
    if x < 0.6:
        return "%02d/%02d/%04d" % (m, d, y)
    if x < 0.7:
        return "%02d/%02d/%04d" % (d, m, y)
    if x < 0.9:
        return "%04d-%02d-%02d" % (y, m, d)
    return "%s %d, %d" % (MONTHS_EN[m - 1][:3], d, y)


def email_for(g, p):
    r = g.rng
    f, last = slug(p.first), slug(p.last)
    local = r.choice([f"{f}.{last}", f"{f[0]}.{last}", f"{f}{last}",
                      f"{f}_{last}", f"{last}.{f}", f"{f}",
                      f"{f}.{last}{r.randint(1, 99)}", f"{f[0]}{last}",
                      f"{f}+{r.choice(['shop', 'news', 'jobs', 'bank'])}",
                      f"{last}"])
    return local + "@" + email_domain(r, p)


def email_domain(r, p=None):
    doms = ["example.com", "example.de", "example.org", "example.net",
            "mail.example.com", "web.example.de", "posteo.example",
            "kanzlei-example.test", "example.co.uk", "uni-example.test"]
    if p is not None and r.random() < 0.15:
        return f"{slug(p.last)}-familie.example"
    return r.choice(doms)


def role_email(r):
    return r.choice(["info", "kontakt", "rechnung", "support", "hr",
                     "bewerbung", "buchhaltung", "service", "billing",
                     "jobs", "privacy", "datenschutz", "noreply"]) + "@" + \
        r.choice(["example.com", "example.de", "shop.example.de",
                  "firma.example", "example.org", "praxis.example.test"])


# ---------------------------------------------------------------------------
# Slots: [[name]] or [[name:key]] in templates.  A key names a person of the
# document (p0 the writer, p1.. others; a trailing f/m fixes the gender).
# A slot returns parts [(text, label)] or a template string to expand.
# ---------------------------------------------------------------------------

P = "PERSON"


@slot("first")
def s_first(d, key):
    return V(d.person(key).first, P)


@slot("last")
def s_last(d, key):
    return V(d.person(key).last, P)


@slot("full")
def s_full(d, key):
    p = d.person(key)
    return V(f"{p.first} {p.last}", P)


@slot("tfull")
def s_tfull(d, key):
    """Optional academic title, not part of the span."""
    p = d.person(key)
    if p.title is None:
        p.title = d.rng.choice(["", "", "", "Dr. ", "Dr. ", "Prof. Dr. ",
                                "Dipl.-Ing. " if d.lang == "de" else "Dr "])
    return [(p.title, None), (f"{p.first} {p.last}", P)] if p.title \
        else V(f"{p.first} {p.last}", P)


def _sal_de(d, p, case):
    """'Herr Müller', 'Frau Dr. Weber', 'Herrn Jonas Müller' (span: name)."""
    r = d.rng
    if p.gender == "m":
        word = {"nom": "Herr", "dat": "Herrn"}[case]
    else:
        word = "Frau"
    title = r.choice(["", "", "", "", "Dr. ", "Dr. ", "Prof. "])
    name = p.last if r.random() < 0.78 else f"{p.first} {p.last}"
    return [(f"{word} {title}", None), (name, P)]


@slot("herr")
def s_herr(d, key):
    return _sal_de(d, d.person(key), "nom")


@slot("herrn")
def s_herrn(d, key):
    return _sal_de(d, d.person(key), "dat")


@slot("frau")
def s_frau(d, key):
    return _sal_de(d, d.person(key, "f"), "nom")


@slot("herr_m")
def s_herr_m(d, key):
    return _sal_de(d, d.person(key, "m"), "nom")


@slot("herrn_m")
def s_herrn_m(d, key):
    return _sal_de(d, d.person(key, "m"), "dat")


@slot("arzt")
def s_arzt(d, key):
    """A doctor: 'Frau Dr. Weber', 'Dr. med. Anna Weber', 'Dr. Koch'."""
    p = d.person(key)
    r = d.rng
    x = r.random()
    if x < 0.45:
        word = "Frau" if p.gender == "f" else "Herr"
        return [(f"{word} Dr. ", None), (p.last, P)]
    if x < 0.8:
        return [("Dr. med. ", None), (f"{p.first} {p.last}", P)]
    return [("Dr. ", None), (p.last, P)]


@slot("praxis")
def s_praxis(d, key):
    """A practice named after its doctor: 'Praxis Dr. Koch' (span: Koch)."""
    p = d.person(key)
    return [(d.rng.choice(["Praxis Dr. ", "Praxis Dr. med. ", "Praxis "]),
             None), (p.last, P)]


@slot("sg")
def s_sg(d, key):
    """German greeting line with comma."""
    p = d.person(key or "p1")
    r = d.rng
    f = p.gender == "f"
    x = r.random()
    if x < 0.3:
        return [("Sehr geehrte Frau " if f else "Sehr geehrter Herr ", None),
                (p.last, P), (",", None)]
    if x < 0.4:
        return [("Sehr geehrte Frau Dr. " if f else
                 "Sehr geehrter Herr Dr. ", None), (p.last, P), (",", None)]
    if x < 0.6:
        return [(r.choice(["Hallo ", "Hi ", "Moin "]), None), (p.first, P),
                (",", None)]
    if x < 0.75:
        return [("Liebe " if f else "Lieber ", None), (p.first, P),
                (",", None)]
    if x < 0.9:
        return [(r.choice(["Hallo Frau ", "Guten Tag Frau "]) if f else
                 r.choice(["Hallo Herr ", "Guten Tag Herr "]), None),
                (p.last, P), (",", None)]
    return V("Sehr geehrte Damen und Herren,")


@slot("mr")
def s_mr(d, key):
    p = d.person(key)
    r = d.rng
    if r.random() < 0.15:
        return [(r.choice(["Dr. ", "Dr "]), None), (f"{p.first} {p.last}", P)]
    word = r.choice(["Mr", "Mr."]) if p.gender == "m" else \
        r.choice(["Ms", "Ms.", "Mrs", "Mrs."])
    if r.random() < 0.15:
        word = r.choice(["Dr.", "Dr", "Prof."])
    return [(word + " ", None), (p.last, P)]


@slot("dear")
def s_dear(d, key):
    p = d.person(key or "p1")
    r = d.rng
    x = r.random()
    if x < 0.45:
        return [("Dear ", None)] + s_mr(d, key or "p1") + [(",", None)]
    if x < 0.65:
        return [("Dear ", None), (p.first, P), (",", None)]
    if x < 0.9:
        return [(r.choice(["Hi ", "Hello ", "Hey "]), None), (p.first, P),
                (",", None)]
    return V(r.choice(["Dear Sir or Madam,", "To whom it may concern,",
                       "Hi team,"]))


@slot("sig_de")
def s_sig_de(d, key):
    key = key or "p0"
    r = d.rng
    close = d.pick(["Viele Grüße", "Mit freundlichen Grüßen", "Beste Grüße",
                    "LG", "Danke und viele Grüße", "Freundliche Grüße",
                    "Herzliche Grüße", "Gruß", "Schöne Grüße"])
    comma = "," if r.random() < 0.3 else ""
    gap = "\n\n" if close == "Mit freundlichen Grüßen" and r.random() < 0.5 \
        else "\n"
    if close in ("LG", "Gruß") or r.random() < 0.2:
        name = f"[[first:{key}]]"
    else:
        name = f"[[tfull:{key}]]" if r.random() < 0.3 else f"[[full:{key}]]"
    return f"{close}{comma}{gap}{name}"


@slot("sig_en")
def s_sig_en(d, key):
    key = key or "p0"
    r = d.rng
    close = d.pick(["Best regards,", "Kind regards,", "Thanks,", "Cheers,",
                    "Sincerely,", "Best,", "Many thanks,", "Regards,",
                    "Warm regards,"])
    if close in ("Thanks,", "Cheers,") or r.random() < 0.2:
        name = f"[[first:{key}]]"
    else:
        name = f"[[tfull:{key}]]" if r.random() < 0.2 else f"[[full:{key}]]"
    return f"{close}\n{name}"


@slot("sig")
def s_sig(d, key):
    return s_sig_de(d, key) if d.lang == "de" else s_sig_en(d, key)


@slot("email")
def s_email(d, key):
    if key is None and d.rng.random() < 0.3:
        return V(role_email(d.rng), "EMAIL")
    p = d.person(key)
    if p.email is None:
        p.email = email_for(d.g, p)
    return V(p.email, "EMAIL")


@slot("phone")
def s_phone(d, key):
    return V(make_phone(d.rng, d.lang), "PHONE")


@slot("phone_de")
def s_phone_de(d, key):
    return V(make_phone_de(d.rng), "PHONE")


@slot("phone_us")
def s_phone_us(d, key):
    return V(make_phone_us(d.rng), "PHONE")


@slot("phone_intl")
def s_phone_intl(d, key):
    r = d.rng
    return V(r.choice([make_phone_uk, make_phone_other, make_phone_us])(r),
             "PHONE")


@slot("tel")
def s_tel(d, key):
    """Phone number with a context word before it."""
    if d.lang == "de":
        ctx = d.pick(["Tel. ", "Tel.: ", "Telefon: ", "Mobil: ", "Handy: ",
                      "Fon ", "Telefonnummer ", "erreichbar unter ",
                      "Rufnummer: ", "Fax: ", "Tel ", "mobil "])
    else:
        ctx = d.pick(["Tel: ", "Phone: ", "phone ", "Mobile: ", "Cell: ",
                      "call me at ", "reach me at ", "Fax: ", "Tel. ",
                      "mobile ", "Phone number: ", "ph. "])
    return [(ctx, None)] + s_phone(d, key)


@slot("iban")
def s_iban(d, key):
    return V(make_iban_any(d.rng, d.lang), "IBAN")


@slot("iban_de")
def s_iban_de(d, key):
    return V(fmt_iban(d.rng, make_iban(d.rng, "DE")), "IBAN")


@slot("iban_eu")
def s_iban_eu(d, key):
    r = d.rng
    cc = r.choice(["AT", "FR", "NL", "BE", "ES", "IT", "CH", "GB", "PL", "LU",
                   "IE"])
    return V(fmt_iban(r, make_iban(r, cc)), "IBAN")


@slot("card")
def s_card(d, key):
    return V(fmt_card(d.rng, make_card_raw(d.rng)), "CREDIT_CARD")


@slot("ipv4")
def s_ipv4(d, key):
    return V(make_ipv4(d.rng), "IP_ADDRESS")


@slot("ipv6")
def s_ipv6(d, key):
    return V(make_ipv6(d.rng), "IP_ADDRESS")


@slot("ip")
def s_ip(d, key):
    return s_ipv6(d, key) if d.rng.random() < 0.25 else s_ipv4(d, key)


@slot("steuerid")
def s_steuerid(d, key):
    return V(fmt_taxid(d.rng, make_taxid_digits(d.rng)), "DE_TAX_ID")


@slot("rvnr")
def s_rvnr(d, key):
    return V(make_rvnr(d.rng, d.person(key)), "DE_SOCIAL_SECURITY")


@slot("kvnr")
def s_kvnr(d, key):
    return V(make_kvnr(d.rng), "DE_HEALTH_INSURANCE")


@slot("ausweis")
def s_ausweis(d, key):
    return V(make_docnr(d.rng, ID_FIRST), "DE_ID_CARD")


@slot("pass")
def s_pass(d, key):
    return V(make_docnr(d.rng, PASS_FIRST), "DE_PASSPORT")


@slot("ustid")
def s_ustid(d, key):
    return V(make_vat(d.rng), "DE_VAT_ID")


@slot("plate")
def s_plate(d, key):
    return V(make_plate(d.rng), "DE_LICENSE_PLATE")


@slot("ssn")
def s_ssn(d, key):
    return V(make_ssn(d.rng), "US_SSN")


@slot("street_de")
def s_street_de(d, key):
    return V(f"{de_street(d.g)} {house_no(d.rng)}", "STREET_ADDRESS")


@slot("addr_de_full")
def s_addr_de_full(d, key):
    plz, city = d.rng.choice(CITIES_DE)
    return V(f"{de_street(d.g)} {house_no(d.rng)}, {plz} {city}",
             "STREET_ADDRESS")


@slot("addr_de")
def s_addr_de(d, key):
    return s_addr_de_full(d, key) if d.rng.random() < 0.6 \
        else s_street_de(d, key)


@slot("addr_de_block")
def s_addr_de_block(d, key):
    """Street on one line, PLZ and city on the next: only the street."""
    plz, city = d.rng.choice(CITIES_DE)
    return s_street_de(d, key) + [(f"\n{plz} {city}", None)]


def _en_street(d):
    r = d.rng
    if r.random() < 0.6:
        num = str(r.choice([r.randint(1, 99), r.randint(100, 9999)]))
        typ = r.choice(US_TYPES)
        tail = r.choice(["", "", "", "", " NW", " NE", " SE", " SW"])
        return f"{num} {r.choice(d.g.en_streets)} {typ}{tail}", "us"
    num = str(r.randint(1, 250)) + (r.choice("ABC") if r.random() < 0.1
                                    else "")
    return f"{num} {r.choice(d.g.en_streets)} {r.choice(UK_TYPES)}", "uk"


@slot("street_en")
def s_street_en(d, key):
    return V(_en_street(d)[0], "STREET_ADDRESS")


@slot("addr_en_full")
def s_addr_en_full(d, key):
    street, kind = _en_street(d)
    r = d.rng
    if kind == "us":
        city, st, zipc = r.choice(US_CITIES)
        return V(f"{street}, {city}, {st} {zipc}", "STREET_ADDRESS")
    city, pc = r.choice(UK_CITIES)
    return V(f"{street}, {city} {pc}", "STREET_ADDRESS")


@slot("addr_en")
def s_addr_en(d, key):
    return s_addr_en_full(d, key) if d.rng.random() < 0.65 \
        else s_street_en(d, key)


@slot("addr")
def s_addr(d, key):
    if d.lang == "de" or d.rng.random() < 0.25:
        return s_addr_de(d, key)
    return s_addr_en(d, key)


def _dob(d, key):
    return d.person(key).dob if key else make_dob_date(d.rng)


@slot("dob_de")
def s_dob_de(d, key):
    return V(fmt_date_de(d.rng, _dob(d, key)), "DATE_OF_BIRTH")


@slot("dob_en")
def s_dob_en(d, key):
    return V(fmt_date_en(d.rng, _dob(d, key)), "DATE_OF_BIRTH")


@slot("dob_iso")
def s_dob_iso(d, key):
    return V("%04d-%02d-%02d" % _dob(d, key), "DATE_OF_BIRTH")


@slot("dob")
def s_dob(d, key):
    return s_dob_de(d, key) if d.lang == "de" else s_dob_en(d, key)


@slot("gebdob")
def s_gebdob(d, key):
    """Birth date with its context words (not part of the span)."""
    if d.lang == "de":
        ctx = d.pick(["geb. ", "geboren am ", "Geburtsdatum: ",
                      "Geb.-Datum: ", "geb. am ", "Geburtsdatum ",
                      "geboren ", "Geburtstag: "])
        return [(ctx, None)] + s_dob_de(d, key)
    ctx = d.pick(["born on ", "date of birth: ", "DOB ", "DOB: ", "born ",
                  "Date of Birth: ", "D.O.B. ", "birth date ",
                  "birthday: "])
    return [(ctx, None)] + s_dob_en(d, key)


@slot("jwt")
def s_jwt(d, key):
    return V(make_jwt(d.rng), "SECRET")


@slot("bearer")
def s_bearer(d, key):
    return [("Bearer ", None)] + s_jwt(d, key)


@slot("sk_openai")
def s_sk_openai(d, key):
    return V(make_secret(d.rng, "openai"), "SECRET")


@slot("sk_ant")
def s_sk_ant(d, key):
    return V(make_secret(d.rng, "anthropic"), "SECRET")


@slot("aws_key")
def s_aws(d, key):
    return V(make_secret(d.rng, "aws"), "SECRET")


@slot("ghp")
def s_ghp(d, key):
    return V(make_secret(d.rng, "github"), "SECRET")


@slot("slack")
def s_slack(d, key):
    return V(make_secret(d.rng, "slack"), "SECRET")


@slot("gkey")
def s_gkey(d, key):
    return V(make_secret(d.rng, "google"), "SECRET")


SECRET_KINDS = ["openai", "anthropic", "aws", "github", "slack", "google"]


@slot("secret")
def s_secret(d, key):
    """Kinds in turn, so that every kind shows up in both sets."""
    g = d.g
    g.secret_turn = getattr(g, "secret_turn", -1) + 1
    kind = SECRET_KINDS[g.secret_turn % len(SECRET_KINDS)]
    return V(make_secret(d.rng, kind), "SECRET")


@slot("pem")
def s_pem(d, key):
    return V(make_pem(d.rng), "SECRET")


@slot("pem_json")
def s_pem_json(d, key):
    """A PEM block inside a JSON string, with literal \\n escapes."""
    return V(make_pem(d.rng, "PRIVATE KEY", nl="\\n",
                      lines=d.rng.randint(3, 6)), "SECRET")


# --- hard negatives (never labelled) ---------------------------------------

def neg(fn):
    def wrapped(d, key):
        d.negatives += 1
        return V(fn(d))
    return wrapped


def _recent(r):
    return (r.randint(2019, 2026), r.randint(1, 12), r.randint(1, 28))


def _ts(r):
    y, m, dd = _recent(r)
    hh, mi, ss = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
    return y, m, dd, hh, mi, ss


MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
       "Nov", "Dec"]

NEG = {
    "neg_order": lambda d: d.rng.choice([
        "%d-%d-%04d" % (d.rng.randint(1000, 9999), d.rng.randint(2019, 2025),
                        d.rng.randint(1, 9999)),
        "#A-%05d" % d.rng.randint(10000, 99999),
        "A-%05d" % d.rng.randint(10000, 99999),
        "BE-%d-%06d" % (d.rng.randint(2019, 2025), d.rng.randint(1, 999999)),
        "%d" % d.rng.randint(100000, 99999999),
        "ORD-%s" % rand_str(d.rng, 8, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")]),
    "neg_invoice": lambda d: d.rng.choice([
        "RE-%d-%05d" % (d.rng.randint(2019, 2025), d.rng.randint(1, 99999)),
        "INV-%d-%04d" % (d.rng.randint(2019, 2025), d.rng.randint(1, 9999)),
        "%d/%04d" % (d.rng.randint(2019, 2025), d.rng.randint(1, 9999)),
        "R%02d%02d%02d-%02d" % (d.rng.randint(19, 25), d.rng.randint(1, 12),
                                d.rng.randint(1, 28), d.rng.randint(1, 99))]),
    "neg_ts": lambda d: (lambda t: d.rng.choice([
        "%04d-%02d-%02dT%02d:%02d:%02dZ" % t,
        "%04d-%02d-%02d %02d:%02d:%02d" % t,
        "%04d-%02d-%02dT%02d:%02d:%02d.%03d+01:00" % (t + (d.rng.randint(
            0, 999),)),
        "%02d/%s/%04d:%02d:%02d:%02d +0100" % (t[2], MON[t[1] - 1], t[0],
                                               t[3], t[4], t[5]),
        "%d" % d.rng.randint(1600000000, 1760000000)]))(_ts(d.rng)),
    "neg_time": lambda d: "%d:%02d" % (d.rng.randint(7, 19),
                                        d.rng.choice([0, 15, 30, 45])),
    "neg_hms": lambda d: "%02d:%02d:%02d" % (
        d.rng.randint(0, 23), d.rng.randint(0, 59), d.rng.randint(0, 59)),
    "neg_version": lambda d: d.rng.choice([
        "v%d.%d.%d" % (d.rng.randint(0, 9), d.rng.randint(0, 30),
                       d.rng.randint(0, 30)),
        "nginx %d.%d.%d" % (1, d.rng.randint(18, 27), d.rng.randint(0, 9)),
        "10.0.%d.%d" % (d.rng.randint(17000, 26200), d.rng.randint(1, 4000)),
        "Python 3.%d.%d" % (d.rng.randint(8, 13), d.rng.randint(0, 12)),
        "OpenSSL 3.0.%d" % d.rng.randint(2, 15),
        "node v%d.%d.%d" % (d.rng.randint(16, 22), d.rng.randint(0, 20),
                            d.rng.randint(0, 9)),
        "6.1.0-%d-amd64" % d.rng.randint(10, 30),
        "PostgreSQL %d.%d" % (d.rng.randint(12, 17), d.rng.randint(0, 9)),
        "%d.%d.%d-beta.%d" % (d.rng.randint(1, 5), d.rng.randint(0, 9),
                              d.rng.randint(0, 9), d.rng.randint(1, 5))]),
    "neg_semver": lambda d: "%d.%d.%d" % (d.rng.randint(1, 4),
                                          d.rng.randint(0, 24),
                                          d.rng.randint(0, 15)),
    "neg_price_de": lambda d: d.rng.choice([
        "{:,.2f} €".format(d.rng.randint(100, 999999) / 100).replace(
            ",", "X").replace(".", ",").replace("X", "."),
        "%d,%02d EUR" % (d.rng.randint(1, 9999), d.rng.randint(0, 99)),
        "€ %d,%02d" % (d.rng.randint(1, 999), d.rng.randint(0, 99)),
        "%d € netto" % d.rng.randint(10, 5000)]),
    "neg_price_en": lambda d: d.rng.choice([
        "${:,.2f}".format(d.rng.randint(100, 999999) / 100),
        "€{:,.2f}".format(d.rng.randint(100, 99999) / 100),
        "£%d.%02d" % (d.rng.randint(1, 999), d.rng.randint(0, 99)),
        "USD {:,.2f}".format(d.rng.randint(100, 999999) / 100)]),
    "neg_uuid": lambda d: "%08x-%04x-4%03x-%x%03x-%012x" % (
        d.rng.getrandbits(32), d.rng.getrandbits(16), d.rng.getrandbits(12),
        d.rng.choice([8, 9, 10, 11]), d.rng.getrandbits(12),
        d.rng.getrandbits(48)),
    "neg_sha": lambda d: "%040x" % d.rng.getrandbits(160),
    "neg_sha_short": lambda d: "%07x" % d.rng.getrandbits(28),
    "neg_sha256": lambda d: "%064x" % d.rng.getrandbits(256),
    "neg_date_de": lambda d: fmt_date_de(d.rng, _recent(d.rng)),
    "neg_date_en": lambda d: fmt_date_en(d.rng, _recent(d.rng)),
    "neg_yr": lambda d: str(d.rng.randint(2005, 2024)),
    "neg_plz": lambda d: d.rng.choice(CITIES_DE)[0],
    "neg_city": lambda d: d.rng.choice(CITIES_DE)[1],
    "neg_company": lambda d: d.rng.choice(COMPANIES),
    "neg_kasse": lambda d: d.rng.choice(KASSEN),
    "neg_product": lambda d: d.rng.choice(PRODUCTS),
    "neg_qty": lambda d: d.rng.choice([
        "3 x 250 ml", "1,5 kg", "1.5 kg", "500 g", "2 TB", "16 GB RAM",
        "250 ml", "2 x 0,5 l", "12 Stück", "750 g", "0,2 mm", "3,5 Zoll",
        "400 g", "1 l", "24 x 330 ml"]),
    "neg_km": lambda d: "%d km" % d.rng.randint(3, 95),
    "neg_km_big": lambda d: "{:,} km".format(d.rng.randint(5, 250) * 1000)
    .replace(",", "."),
    "neg_room": lambda d: d.rng.choice([
        "Raum %d" % d.rng.randint(100, 4999), "Zimmer %d" % d.rng.randint(
            100, 999), "Gate B%d" % d.rng.randint(1, 60),
        "Raum %d.%d" % (d.rng.randint(1, 5), d.rng.randint(1, 40))]),
    "neg_room_en": lambda d: d.rng.choice([
        "Room %d" % d.rng.randint(100, 4999), "Suite %d" % d.rng.randint(
            100, 999), "Gate %s%d" % (d.rng.choice("ABCDE"),
                                      d.rng.randint(1, 60))]),
    "neg_mac": lambda d: ":".join("%02x" % d.rng.randrange(256)
                                  for _ in range(6)),
    "neg_customer": lambda d: d.rng.choice([
        "%d" % d.rng.randint(1000000, 9999999),
        "KD-%06d" % d.rng.randint(1, 999999),
        "K%d" % d.rng.randint(10000, 99999)]),
    "neg_tracking": lambda d: d.rng.choice([
        "00340434" + digits(d.rng, 12), "JJD" + digits(d.rng, 18),
        "1Z" + rand_str(d.rng, 6, "ABCDEFGHJKLMNPRSTUVWXYZ0123456789") +
        digits(d.rng, 10)]),
    "neg_bic": lambda d: d.rng.choice(["COBADEFFXXX", "DEUTDEDBBER",
                                       "INGDDEFFXXX", "BYLADEM1001",
                                       "GENODEF1S02", "PBNKDEFFXXX",
                                       "SOLADEST600", "HYVEDEMMXXX"]),
    "neg_az": lambda d: d.rng.choice([
        "%d Js %d/%02d" % (d.rng.randint(100, 999), d.rng.randint(1000, 9999),
                           d.rng.randint(19, 25)),
        "%d.%d.%06d.%d" % (d.rng.randint(10, 99), d.rng.randint(10, 99),
                           d.rng.randint(1, 999999), d.rng.randint(1, 9)),
        "BG-%d-%05d" % (d.rng.randint(2019, 2025), d.rng.randint(1, 99999))]),
    "neg_policy": lambda d: d.rng.choice([
        "VS-%d-%06d" % (d.rng.randint(2015, 2025), d.rng.randint(1, 999999)),
        "%d.%03d.%03d" % (d.rng.randint(10, 99), d.rng.randint(0, 999),
                          d.rng.randint(0, 999)),
        "POL-%s" % rand_str(d.rng, 7, "ABCDEFGHJKLMNPRSTUVWXYZ0123456789")]),
    "neg_serial": lambda d: "SN-%s" % rand_str(
        d.rng, 10, "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"),
    "neg_age": lambda d: str(d.rng.randint(19, 67)),
    "neg_duration": lambda d: d.rng.choice([
        "drei Wochen", "zwei Monaten", "%d Tagen" % d.rng.randint(2, 40),
        "einem halben Jahr"]),
    "neg_duration_en": lambda d: d.rng.choice([
        "three weeks", "two months", "%d days" % d.rng.randint(2, 40),
        "half a year"]),
    "neg_uid_at": lambda d: "ATU%d" % d.rng.randint(10000000, 99999999),
    "neg_winver": lambda d: "10.0.%d.%d" % (d.rng.choice(
        [19041, 19045, 22621, 22631, 26100]), d.rng.randint(1000, 4500)),
    "neg_port": lambda d: str(d.rng.choice([22, 80, 443, 3000, 5432, 6379,
                                           8080, 8443, 9090, 27017])),
    "neg_pid": lambda d: str(d.rng.randint(300, 65000)),
    "neg_hex": lambda d: "0x%08x" % d.rng.getrandbits(32),
    "neg_pct": lambda d: "%d %%" % d.rng.randint(1, 99),
    "neg_count": lambda d: str(d.rng.randint(2, 5000)),
    "neg_cert": lambda d: make_cert(d.rng),
    "neg_placeholder": lambda d: d.rng.choice([
        "sk-...", "sk-XXXX", "<YOUR_API_KEY>", "YOUR_TOKEN_HERE",
        "ghp_xxx", "AKIA...", "xoxb-your-token", "$OPENAI_API_KEY",
        "${GITHUB_TOKEN}", "<token>", "changeme"]),
    "neg_iban_bad": lambda d: bad_iban(d.rng),
    "neg_card_bad": lambda d: bad_card(d.rng),
    "neg_taxid_bad": lambda d: bad_taxid(d.rng),
    "neg_ssn_bad": lambda d: bad_ssn(d.rng),
    "neg_vat_bad": lambda d: bad_vat(d.rng),
    "neg_kvnr_bad": lambda d: bad_kvnr(d.rng),
    "neg_phone_short": lambda d: d.rng.choice([
        "Durchwahl %d" % d.rng.randint(10, 999), "App. %d" % d.rng.randint(
            10, 99), "Nebenstelle %d" % d.rng.randint(100, 9999)]),
    "neg_street_only": lambda d: d.rng.choice(
        [b + "straße" for b in STREET_BASES[:20]] + STREETS_ADJ[:6]),
}


def bad_iban(r):
    cc = r.choice(["DE", "DE", "DE", "AT", "FR", "NL", "ES"])
    good = make_iban(r, cc)
    while True:
        bad = good[:2] + "%02d" % r.randint(2, 98) + good[4:]
        if not iban_valid(bad):
            return fmt_iban(r, bad)


def bad_card(r):
    good = make_card_raw(r)
    bad = good[:-1] + str((int(good[-1]) + r.randint(1, 9)) % 10)
    return fmt_card(r, bad)


def bad_taxid(r):
    good = make_taxid_digits(r)
    bad = good[:-1] + str((int(good[-1]) + r.randint(1, 9)) % 10)
    return fmt_taxid(r, bad)


def bad_ssn(r):
    return r.choice(["000-%02d-%04d" % (r.randint(1, 99),
                                        r.randint(1, 9999)),
                     "666-%02d-%04d" % (r.randint(1, 99),
                                        r.randint(1, 9999)),
                     "9%02d-%02d-%04d" % (r.randint(0, 99), r.randint(1, 99),
                                          r.randint(1, 9999)),
                     "%03d-00-%04d" % (r.randint(1, 665),
                                       r.randint(1, 9999))])


def bad_vat(r):
    good = make_vat(r)
    return good[:-1] + str((int(good[-1]) + r.randint(1, 9)) % 10)


def bad_kvnr(r):
    good = make_kvnr(r)
    return good[:-1] + str((int(good[-1]) + r.randint(1, 9)) % 10)


for _name, _fn in NEG.items():
    SLOTS[_name] = neg(_fn)


# --- composite technical lines --------------------------------------------

def _host(d):
    return d.rng.choice(["web01", "web-02", "app-prod-1", "bastion", "db01",
                         "gw-fra-1", "k8s-node-3", "mail01", "vpn"])


def _user(d):
    return d.rng.choice(["admin", "oracle", "test", "ubuntu", "postgres",
                         "git", "ftpuser", "support", "deploy", "backup"])


@slot("log_sshd")
def s_log_sshd(d, key):
    y, m, dd, hh, mi, ss = _ts(d.rng)
    head = "%s %2d %02d:%02d:%02d %s sshd[%d]: " % (
        MON[m - 1], dd, hh, mi, ss, _host(d), d.rng.randint(300, 65000))
    msg = d.pick(["Failed password for invalid user %s from ",
                  "Accepted publickey for %s from ",
                  "Invalid user %s from ",
                  "Connection closed by authenticating user %s ",
                  "Disconnected from invalid user %s ",
                  "Failed password for %s from "]) % _user(d)
    port = " port %d" % d.rng.randint(1024, 65535)
    return [(head + msg, None)] + s_ip(d, None) + \
        [(port + d.rng.choice([" ssh2", "", " [preauth]"]), None)]


@slot("log_nginx")
def s_log_nginx(d, key):
    y, m, dd, hh, mi, ss = _ts(d.rng)
    path = d.rng.choice(["/api/v1/orders?page=2", "/login", "/wp-login.php",
                         "/v1/chat/completions", "/healthz", "/static/app.js",
                         "/api/kunden/4711", "/.env", "/checkout"])
    rest = ' - - [%02d/%s/%04d:%02d:%02d:%02d +0100] "%s %s HTTP/1.1" %d %d ' \
        '"-" "%s"' % (dd, MON[m - 1], y, hh, mi, ss,
                      d.rng.choice(["GET", "POST", "GET"]), path,
                      d.rng.choice([200, 301, 401, 404, 499, 502, 504]),
                      d.rng.randint(0, 90000),
                      d.rng.choice(["Mozilla/5.0 (X11; Linux x86_64)",
                                    "curl/7.88.1", "python-requests/2.31.0",
                                    "Go-http-client/1.1"]))
    return s_ip(d, None) + [(rest, None)]


@slot("log_f2b")
def s_log_f2b(d, key):
    t = _ts(d.rng)
    head = "%04d-%02d-%02d %02d:%02d:%02d,%03d fail2ban.actions [%d]: " \
        "NOTICE [sshd] %s " % (t + (d.rng.randint(0, 999),
                                    d.rng.randint(300, 9999),
                                    d.rng.choice(["Ban", "Unban", "Ban"])))
    return [(head, None)] + s_ipv4(d, None)


@slot("log_ufw")
def s_log_ufw(d, key):
    t = _ts(d.rng)
    head = "%s %2d %02d:%02d:%02d %s kernel: [UFW BLOCK] IN=eth0 OUT= " \
        "MAC=%s SRC=" % (MON[t[1] - 1], t[2], t[3], t[4], t[5], _host(d),
                         ":".join("%02x" % d.rng.randrange(256)
                                  for _ in range(14)))
    return [(head, None)] + s_ipv4(d, None) + [(" DST=", None)] + \
        s_ipv4(d, None) + [(" LEN=60 TOS=0x00 PROTO=TCP SPT=%d DPT=%d" % (
            d.rng.randint(1024, 65535), d.rng.choice([22, 23, 3389, 5900,
                                                      8080])), None)]


@slot("log_pg")
def s_log_pg(d, key):
    t = _ts(d.rng)
    head = '%04d-%02d-%02d %02d:%02d:%02d.%03d CET [%d] FATAL:  no ' \
        'pg_hba.conf entry for host "' % (t + (d.rng.randint(0, 999),
                                              d.rng.randint(300, 65000)))
    return [(head, None)] + s_ipv4(d, None) + \
        [('", user "app", database "shop", SSL off', None)]


@slot("log_app")
def s_log_app(d, key):
    t = _ts(d.rng)
    ts = "%04d-%02d-%02dT%02d:%02d:%02dZ" % t
    msg = d.rng.choice(["login failed", "payment declined",
                        "password reset requested", "token expired",
                        "rate limit exceeded"])
    head = '{"ts":"%s","level":"%s","msg":"%s","user":"' % (
        ts, d.rng.choice(["error", "warn", "info"]), msg)
    return [(head, None)] + s_email(d, None) + [('","ip":"', None)] + \
        s_ip(d, None) + [('","req":"%s"}' % NEG["neg_uuid"](d), None)]


@slot("log_plain")
def s_log_plain(d, key):
    """A log line without personal data (hard negative)."""
    d.negatives += 1
    t = _ts(d.rng)
    return V("%04d-%02d-%02dT%02d:%02d:%02dZ " % t + d.rng.choice([
        "INFO  worker-%d started pid=%d" % (d.rng.randint(1, 9),
                                           d.rng.randint(300, 65000)),
        "ERROR job=%s duration=%dms status=500" % (NEG["neg_uuid"](d),
                                                  d.rng.randint(5, 9000)),
        "WARN  retry %d/5 for queue=invoices" % d.rng.randint(1, 5),
        "DEBUG cache miss key=session:%s" % NEG["neg_sha_short"](d),
        "INFO  deployed build %s (%s)" % (NEG["neg_sha_short"](d),
                                         NEG["neg_semver"](d))]))


# ---------------------------------------------------------------------------
# Scenarios.  Blocks are joined with the scenario's separator; each block is
# one phrasing out of its alternatives (split between dev and test).
# ---------------------------------------------------------------------------

SCENARIOS = []


def scn(name, lang, *blocks, sep="\n\n", weight=1.0, neg=False):
    SCENARIOS.append(Scn(name, lang, list(blocks), sep, weight, neg))


# === German ===============================================================

scn("de_support_ticket", "de",
    ["Hilf mir bitte, auf dieses Support-Ticket zu antworten:",
     "Kannst du diese Kundenanfrage zusammenfassen und eine Antwort "
     "entwerfen?",
     "Formuliere eine freundliche, kurze Antwort auf folgendes Ticket:",
     "Ticket aus unserem Helpdesk – bitte einen Antwortvorschlag auf Deutsch:",
     "Bitte klassifiziere das Ticket (Rechnung, Versand, Technik) und schlag "
     "eine Antwort vor:",
     "Wie würdest du auf diese Beschwerde reagieren?"],
    ["Hallo liebes Support-Team,\nich habe am [[neg_date_de]] die Bestellung "
     "[[neg_order]] aufgegeben, aber bis heute keine Lieferung erhalten.",
     "Guten Tag,\nmein Paket an [[addr_de_full]] ist laut Sendungsverfolgung "
     "([[neg_tracking]]) zugestellt, aber nie angekommen.",
     "Hallo zusammen,\ndie Rechnung [[neg_invoice]] wurde zweimal von meiner "
     "Kreditkarte [[card]] abgebucht, jeweils [[neg_price_de]].",
     "Sehr geehrte Damen und Herren,\nseit dem Update auf [[neg_version]] "
     "startet die App nicht mehr. Mein Kundenkonto läuft auf "
     "[[email:p0]].",
     "Hallo,\nich bin umgezogen, meine neue Anschrift lautet "
     "[[addr_de_full]]. Bitte ändern Sie auch die Lieferadresse für das Abo "
     "[[neg_order]].",
     "Moin,\ndas Gerät (Seriennummer [[neg_serial]]) ist nach "
     "[[neg_duration]] kaputtgegangen. Ich möchte es zurückschicken.",
     "[[sg:p1]]\nIhr Kollege [[herr_m:p2]] hat mir am Telefon eine Gutschrift "
     "über [[neg_price_de]] zugesagt, die ist aber nie gekommen.",
     "Guten Tag,\nbei der Bestellung [[neg_order]] fehlen [[neg_qty]]. "
     "Lieferadresse war [[street_de]]."],
    Opt(0.75, ["Sie erreichen mich unter [[phone]] oder per E-Mail an "
               "[[email:p0]].",
               "Rückruf bitte unter [[tel]], am besten nach [[neg_time]] Uhr.",
               "Bitte erstatten Sie den Betrag auf mein Konto: [[iban_de]], "
               "Kontoinhaber [[full:p0]].",
               "Meine Kundennummer ist [[neg_customer]], [[tel]].",
               "Zur Verifizierung: mein Geburtsdatum ist der [[dob_de:p0]].",
               "Antwort bitte an [[email:p0]], nicht an die alte Adresse "
               "[[email]].",
               "Die Gutschrift bitte auf [[iban]] (Kontoinhaberin "
               "[[full:p0f]]).",
               "Ich bin tagsüber unter [[phone_de]] erreichbar."]),
    ["[[sig_de]]"])

scn("de_email_draft", "de",
    ["Schreib bitte eine E-Mail an [[herrn:p1]] ([[email:p1]]), dass sich "
     "unser Termin am [[neg_date_de]] auf [[neg_time]] Uhr verschiebt.",
     "Formuliere eine höfliche Absage an [[full:p1]] für das "
     "Vorstellungsgespräch. Die Adresse ist [[email:p1]].",
     "Entwirf eine Mail an meine Vermieterin [[frau:p1]], dass die Heizung in "
     "der [[street_de]] seit dem [[neg_date_de]] ausgefallen ist.",
     "Kannst du eine Zahlungserinnerung an [[herrn:p1]] schreiben? Die "
     "Rechnung [[neg_invoice]] über [[neg_price_de]] ist seit dem "
     "[[neg_date_de]] fällig.",
     "Bitte hilf mir, [[full:p1f]] zu gratulieren – sie hat die Probezeit "
     "bestanden. Ton: locker, aber professionell.",
     "Ich brauche eine kurze Nachricht an [[herrn_m:p1]]: Er soll mich unter "
     "[[phone]] zurückrufen.",
     "Schreib eine Einladung zum Sommerfest an das Team und setz "
     "[[full:p1]] ([[email:p1]]) als Ansprechperson ein.",
     "Formuliere eine Antwort an [[full:p1]], die nach dem Stand ihres "
     "Antrags [[neg_order]] gefragt hat. Sie erreicht uns unter "
     "[[email]].",
     "Mach aus diesen Stichpunkten eine E-Mail an [[herrn:p1]]: Angebot "
     "[[neg_invoice]] angenommen, Lieferung KW 14, Rückfragen an "
     "[[email:p0]]."],
    Opt(0.6, ["Meine Kontaktdaten für die Signatur: [[full:p0]], [[phone]], "
              "[[email:p0]].",
              "Unterschreib mit [[full:p0]], Teamleitung Einkauf bei "
              "[[neg_company]].",
              "In CC soll [[email]] stehen.",
              "Für die Signatur: [[full:p0]], [[addr_de_full]], [[tel]].",
              "Erwähne, dass ich ab [[neg_date_de]] im Urlaub bin und "
              "[[full:p2]] mich vertritt.",
              "Unten bitte meine Durchwahl ergänzen: [[phone_de]]."]))

scn("de_cv", "de",
    ["Kannst du meinen Lebenslauf sprachlich verbessern?",
     "Bitte mach aus diesen Stichpunkten einen tabellarischen Lebenslauf:",
     "Prüfe meinen CV auf Rechtschreibfehler:",
     "Ich bewerbe mich als Pflegefachkraft. Hier mein Lebenslauf, bitte "
     "kürzen:",
     "Formatiere meinen Lebenslauf einheitlich (Markdown):",
     "Übersetze den Kopf meines Lebenslaufs ins Englische:"],
    ["Name: [[full:p0]]", "[[tfull:p0]]", "Persönliche Daten\n[[full:p0]]",
     "**[[full:p0]]**", "Vor- und Nachname: [[full:p0]]"],
    ["Geburtsdatum: [[dob_de:p0]]", "geb. [[dob_de:p0]] in [[neg_city]]",
     "Geboren am [[dob_de:p0]]", "Geburtsdatum/-ort: [[dob_de:p0]], "
     "[[neg_city]]", "geb. am [[dob_de:p0]]"],
    ["Anschrift: [[addr_de_full]]", "[[addr_de_block]]",
     "Wohnort: [[addr_de_full]]", "Adresse: [[addr_de_full]]"],
    ["Telefon: [[phone_de]] | E-Mail: [[email:p0]]",
     "Mobil: [[phone_de]]\nE-Mail: [[email:p0]]",
     "[[email:p0]] · [[phone]]", "Tel.: [[phone]], Mail: [[email:p0]]"],
    ["\nBerufserfahrung\n[[neg_yr]]–heute: Sachbearbeitung bei "
     "[[neg_company]]\n[[neg_yr]]–[[neg_yr]]: Ausbildung zur Kauffrau für "
     "Büromanagement",
     "\nStationen:\n- [[neg_yr]]–[[neg_yr]] Entwickler bei [[neg_company]] "
     "(Java, Kubernetes)\n- seit [[neg_yr]] Teamlead bei [[neg_company]]",
     "\nErfahrung: [[neg_yr]] bis heute Pflegefachkraft, [[neg_company]]; "
     "davor [[neg_yr]]–[[neg_yr]] Ausbildung.",
     "\nKenntnisse: [[neg_product]], [[neg_product]], Englisch C1, "
     "Führerschein Klasse B"],
    Opt(0.35, ["Referenz: [[herr:p2]], [[neg_company]], Tel. [[phone_de]]",
               "Referenzen auf Anfrage.",
               "Referenzperson: [[full:p2]] ([[email:p2]])"]),
    sep="\n")

scn("de_hr_record", "de",
    ["Erstelle aus diesen Angaben einen Eintrag für die Personalakte:",
     "Bitte prüfe, ob die Daten für die Anmeldung bei der Krankenkasse "
     "vollständig sind:",
     "Unser neuer Mitarbeiter fängt am [[neg_date_de]] an, hier seine Daten. "
     "Was fehlt noch für die Lohnabrechnung?",
     "Formatiere das bitte als Markdown-Tabelle:",
     "Schreib daraus ein Begrüßungsschreiben für den ersten Arbeitstag:",
     "Sind diese Stammdaten plausibel?"],
    ["Name: [[full:p1]]", "Mitarbeiter: [[full:p1]]",
     "Mitarbeiterin: [[full:p1f]]", "Vorname: [[first:p1]]\nNachname: "
     "[[last:p1]]"],
    ["Geburtsdatum: [[dob_de:p1]]", "geb. [[dob_de:p1]]",
     "Geb.-Datum: [[dob_de:p1]]"],
    Opt(0.8, ["Anschrift: [[addr_de_full]]", "Wohnhaft: [[addr_de_full]]",
              "Adresse: [[addr_de_full]]"]),
    Opt(0.7, ["Steuer-ID: [[steuerid]]", "Steuerliche IdNr.: [[steuerid]]",
              "Steuer-Identifikationsnummer: [[steuerid]]",
              "IdNr. [[steuerid]]", "Steuer-IdNr: [[steuerid]]"]),
    Opt(0.6, ["SV-Nummer: [[rvnr:p1]]", "Rentenversicherungsnummer: "
              "[[rvnr:p1]]", "Sozialversicherungsnr. [[rvnr:p1]]",
              "RV-Nr.: [[rvnr:p1]]"]),
    Opt(0.6, ["Krankenkasse: [[neg_kasse]], Versichertennr. [[kvnr]]",
              "KV: [[neg_kasse]] (KVNR [[kvnr]])",
              "Krankenversichertennummer: [[kvnr]]"]),
    Opt(0.6, ["IBAN: [[iban_de]]", "Bankverbindung: [[iban_de]]",
              "Gehaltskonto: [[iban]]"]),
    Opt(0.5, ["Eintritt: [[neg_date_de]], Bruttogehalt [[neg_price_de]]",
              "Beginn: [[neg_date_de]], Wochenarbeitszeit 38,5 h",
              "Probezeit bis [[neg_date_de]]"]),
    Opt(0.3, ["Notfallkontakt: [[full:p2]], [[phone]]",
              "Notfall: [[first:p2]] ([[phone_de]])"]),
    sep="\n")

scn("de_tax", "de",
    ["Ich habe eine Frage zur Steuererklärung [[neg_yr]].",
     "Kurze Steuerfrage:",
     "Mein Finanzamt hat mir einen Brief geschickt und ich verstehe ihn "
     "nicht.",
     "Hilfe bei ELSTER bitte.",
     "Frage zur Einkommensteuer:"],
    ["Meine Steuer-ID ist [[steuerid]] und ich arbeite seit dem "
     "[[neg_date_de]] als Freiberufler.",
     "In ELSTER steht bei meiner Identifikationsnummer [[steuerid]] ein "
     "anderer Name – [[full]] statt [[full:p0]].",
     "Als Selbstständige habe ich die USt-IdNr. [[ustid]] bekommen. Muss die "
     "auf jede Rechnung?",
     "Meine Frau [[first:p1f]] und ich (Steuer-IdNr. [[steuerid]] und "
     "[[steuerid]]) wollen die Zusammenveranlagung wählen.",
     "Ich pendle [[neg_km]] einfach und habe ein Arbeitszimmer. Meine "
     "Steueridentifikationsnummer: [[steuerid]].",
     "Der Steuerbescheid für [[full:p0]] (IdNr. [[steuerid]]) weist eine "
     "Nachzahlung von [[neg_price_de]] aus.",
     "Mein Arbeitgeber hat die falsche Steuer-ID übermittelt: [[steuerid]] "
     "statt der richtigen [[steuerid]]."],
    Opt(0.6, ["Kann ich die Kosten von [[neg_price_de]] für den Laptop "
              "absetzen?",
              "Lohnt sich die Pendlerpauschale bei [[neg_km]] einfacher "
              "Strecke?",
              "Die Frist ist der [[neg_date_de]] – schaffe ich das noch?",
              "Ich wohne in der [[addr_de_full]]; welches Finanzamt ist "
              "zuständig?",
              "Erstattungen bitte auf [[iban_de]].",
              "Rückfragen gern an [[email:p0]]."]),
    sep=" ")

scn("de_invoice", "de",
    ["Prüfe bitte diese Rechnung auf formale Fehler (§ 14 UStG):",
     "Kannst du aus den folgenden Angaben eine ordentliche Rechnung bauen?",
     "Extrahiere die Felder als JSON:",
     "Stimmen auf dieser Rechnung alle Pflichtangaben?"],
    ["[[neg_company]]\n[[addr_de_full]]", "[[neg_company]]\n[[addr_de_block]]",
     "[[neg_company]] · [[addr_de_full]]"],
    ["USt-IdNr.: [[ustid]]", "Umsatzsteuer-ID: [[ustid]]",
     "USt-ID [[ustid]]", "Ust-IdNr. [[ustid]]"],
    ["Rechnung Nr. [[neg_invoice]] vom [[neg_date_de]]",
     "Rechnungsnummer: [[neg_invoice]]\nRechnungsdatum: [[neg_date_de]]",
     "RECHNUNG [[neg_invoice]] – Leistungszeitraum [[neg_date_de]] bis "
     "[[neg_date_de]]"],
    ["An: [[full]], [[addr_de_full]]", "Kunde: [[full]] (Kundennr. "
     "[[neg_customer]])", "Empfänger: [[herr]]\n[[addr_de_block]]",
     "Rechnungsempfänger: [[full]], [[street_de]]"],
    ["Pos. 1  Beratung, 3 Std. à 95,00 €  285,00 €\nGesamt: [[neg_price_de]]",
     "1 x Wartungsvertrag  [[neg_price_de]]\n[[neg_qty]] Material  "
     "[[neg_price_de]]\nSumme netto [[neg_price_de]], zzgl. 19 % USt.",
     "Leistung: Webdesign, Pauschale [[neg_price_de]]"],
    ["Zahlbar bis [[neg_date_de]] auf [[iban_de]] (BIC [[neg_bic]]).",
     "Bankverbindung: IBAN [[iban]] · BIC [[neg_bic]]",
     "Bitte überweisen Sie den Betrag innerhalb von 14 Tagen auf IBAN "
     "[[iban_de]].", "Konto: [[iban_de]]"],
    Opt(0.5, ["Tel. [[phone_de]] · [[email]]",
              "Fragen zur Rechnung: [[email]]",
              "Geschäftsführer: [[full]]"]),
    sep="\n")

scn("de_health_insurance", "de",
    ["Hilf mir, einen Widerspruch an meine Krankenkasse zu formulieren.",
     "Formuliere bitte ein Schreiben an die [[neg_kasse]] wegen einer "
     "abgelehnten Kostenübernahme.",
     "Ich brauche einen Antrag auf Erstattung, hier die Daten:",
     "Schreib einen kurzen Brief an die Krankenkasse, sachlich:",
     "Was schreibe ich der Krankenkasse in diesem Fall?"],
    ["Versichertennummer: [[kvnr]]", "Meine Krankenversichertennummer ist "
     "[[kvnr]].", "KVNR [[kvnr]] (steht auf der eGK)",
     "Versicherten-Nr.: [[kvnr]]", "Krankenversicherungsnummer [[kvnr]]"],
    ["Name: [[full:p0]], geb. [[dob_de:p0]]",
     "Versicherte: [[full:p0f]], geboren am [[dob_de:p0]]",
     "Es geht um meinen Sohn [[first:p3m]], geb. [[dob_de]].",
     "Versicherter: [[tfull:p0]], Geburtsdatum [[dob_de:p0]]"],
    ["Die Physiotherapie bei [[arzt]] wurde abgelehnt.",
     "Die Rechnung der [[praxis]] über [[neg_price_de]] wurde abgelehnt.",
     "Die Rechnung von [[arzt]] vom [[neg_date_de]] über [[neg_price_de]] "
     "wurde nicht erstattet.",
     "Der Bescheid vom [[neg_date_de]] (Az. [[neg_az]]) lehnt die "
     "Kostenübernahme ab.",
     "[[arzt]] hat eine Reha empfohlen, die Kasse sagt nein.",
     "Die Zahnbehandlung ([[neg_price_de]]) wurde nur zu [[neg_pct]] "
     "übernommen."],
    Opt(0.6, ["Meine Anschrift: [[addr_de_full]].",
              "Rückfragen gern unter [[phone_de]].",
              "Die Erstattung bitte auf [[iban_de]].",
              "Erreichbar bin ich per Mail: [[email:p0]]",
              "Antwort gern an mailto:[[email:p0]]"]),
    ["[[sig_de]]"], sep="\n")

scn("de_id_documents", "de",
    ["Ich habe meinen Personalausweis verloren (Ausweisnummer [[ausweis]]). "
     "Was muss ich jetzt tun?",
     "Die Bank will für die Kontoeröffnung meine Personalausweisnummer. Ist "
     "[[ausweis]] die richtige Nummer, also die oben rechts?",
     "Für den Hotel-Check-in: Personalausweis-Nr. [[ausweis]], gültig bis "
     "[[neg_date_de]].",
     "Mein Reisepass (Passnummer [[pass]]) läuft am [[neg_date_de]] ab – "
     "reicht das für eine USA-Reise?",
     "Bei der Online-Buchung wird die Reisepassnummer verlangt: [[pass]]. "
     "Muss ich die Prüfziffer mit eingeben?",
     "Kannst du das Formular ausfüllen? Name [[full:p0]], geboren am "
     "[[dob_de:p0]], Reisepass [[pass]], Staatsangehörigkeit deutsch.",
     "Ich muss online meine Identität bestätigen. Ausweisnummer: [[ausweis]], "
     "Name [[full:p0]].",
     "Mein Kind braucht einen eigenen Reisepass, meiner hat die Nummer "
     "[[pass]]. Kann ich den Antrag online stellen?",
     "Auf meinem neuen Personalausweis ([[ausweis]]) ist der Name falsch "
     "geschrieben: [[last:p0]] statt [[last]]."],
    Opt(0.6, ["Ich wohne in der [[addr_de_full]].",
              "Meine Handynummer für Rückfragen: [[phone_de]]",
              "Auf dem Ausweis steht noch meine alte Adresse, "
              "[[addr_de_full]].",
              "Das Bürgeramt hat mir eine Mail an [[email:p0]] geschickt.",
              "Der Termin beim Bürgeramt ist am [[neg_date_de]] um "
              "[[neg_time]] in [[neg_room]]."]),
    sep=" ")

scn("de_vehicle", "de",
    ["Mein Auto mit dem Kennzeichen [[plate]] wurde heute abgeschleppt. Wie "
     "bekomme ich es zurück?",
     "Schreib einen Einspruch gegen den Bußgeldbescheid [[neg_az]]: Das "
     "Fahrzeug mit dem amtlichen Kennzeichen [[plate]] wurde am "
     "[[neg_date_de]] um [[neg_time]] geblitzt, aber ich war im Urlaub.",
     "Für die Kfz-Versicherung: Kfz-Kennzeichen [[plate]], Erstzulassung "
     "[[neg_date_de]], Laufleistung [[neg_km_big]].",
     "Jemand hat mein Auto angefahren und ist abgehauen – ich konnte nur das "
     "Nummernschild (Kennzeichen) notieren: [[plate]].",
     "Ich verkaufe meinen Golf (Kennzeichen [[plate]]) an [[full]]. Kannst du "
     "einen Kaufvertrag aufsetzen?",
     "Auf dem Firmenparkplatz steht seit [[neg_duration]] ein fremdes Auto, "
     "Kennzeichen [[plate]]. Schreib eine Notiz an die Hausverwaltung.",
     "Wie melde ich das Fahrzeug mit dem Kennzeichen [[plate]] ab? Der "
     "Fahrzeugbrief liegt vor.",
     "Der Firmenwagen [[plate]] (Kennzeichen) muss zum TÜV, Termin am "
     "[[neg_date_de]]."],
    Opt(0.5, ["Halter ist [[full:p0]], [[addr_de_full]].",
              "Die Versicherungsnummer lautet [[neg_policy]].",
              "Bitte antworte kurz.",
              "Halterin: [[full:p0f]], erreichbar unter [[phone_de]]."]),
    sep=" ")

scn("de_sshd", "de",
    ["Was bedeutet dieses Log? Werden wir angegriffen?",
     "Kannst du mir diese auth.log-Zeilen erklären?",
     "Unser Bastion-Host zeigt seit heute Nacht so was:",
     "Wie sperre ich die Angreifer aus diesem Log dauerhaft?"],
    ["```\n[[log_sshd]]\n[[log_sshd]]\n[[log_sshd]]\n```",
     "```\n[[log_sshd]]\n[[log_f2b]]\n[[log_sshd]]\n```",
     "[[log_sshd]]\n[[log_sshd]]"],
    Opt(0.6, ["Der Server läuft auf [[ipv4]] mit Debian 12, "
              "[[neg_version]].",
              "Soll ich [[ipv4]] in fail2ban dauerhaft sperren?",
              "Kernel [[neg_version]], Uptime seit [[neg_date_de]].",
              "Unser VPN-Gateway hat die Adresse [[ip]], nur von dort "
              "sollte SSH gehen."]))

scn("de_nginx_conf", "de",
    ["Unser nginx liefert 502 Bad Gateway. Hier die Config:",
     "Warum greift die allow/deny-Regel nicht?",
     "Bitte prüf diese nginx-Konfiguration auf Fehler:",
     "Wie baue ich hier ein Load-Balancing mit Health-Checks ein?"],
    [D("""
        ```nginx
        upstream backend {
            server [[ipv4]]:8080;
            server [[ipv4]]:8080 backup;
        }
        server {
            listen 443 ssl;
            server_name shop.example.de;
            location /admin/ {
                allow [[ipv4]];
                deny all;
            }
        }
        ```"""),
     D("""
        ```
        server {
            listen [[ipv4]]:80;
            listen [[[ipv6]]]:80;
            location / { proxy_pass http://[[ipv4]]:3000; }
        }
        ```"""),
     D("""
        ```nginx
        geo $intern {
            default 0;
            [[ipv4]]/24 1;
        }
        set_real_ip_from [[ipv4]];
        ```"""),
     D("""
        ```
        location /api/ {
            proxy_pass http://[[ipv4]]:[[neg_port]];
            proxy_set_header X-Forwarded-For $remote_addr;
        }
        ```""")],
    Opt(0.5, ["nginx-Version: [[neg_version]].",
              "Im error.log steht: connect() failed (111: Connection refused) "
              "while connecting to upstream, client: [[ip]]",
              "Der Healthcheck läuft von [[ipv4]] aus."]))

scn("de_code_secret", "de",
    ["Warum bekomme ich 401 Unauthorized?\n```python\nimport requests\n"
     "headers = {\"Authorization\": \"[[bearer]]\"}\nr = requests.get("
     "\"https://api.example.com/v1/kunden\", headers=headers, timeout=10)\n"
     "print(r.status_code)\n```",
     "Mein Skript findet den Key nicht:\n```bash\nexport OPENAI_API_KEY="
     "[[sk_openai]]\npython3 main.py\n```\nFehler: openai.AuthenticationError",
     "Ist es schlimm, dass dieser Key in unserem Git-Repo stand?\n"
     "```\nAWS_ACCESS_KEY_ID=[[aws_key]]\nAWS_DEFAULT_REGION=eu-central-1\n"
     "```\nCommit [[neg_sha_short]].",
     "Der Slack-Bot antwortet nicht:\n```js\nconst app = new App({ token: "
     "\"[[slack]]\", signingSecret: process.env.SLACK_SIGNING_SECRET });\n"
     "```",
     "Warum sagt die Google-Maps-API 'RefererNotAllowedMapError'?\n"
     "```html\n<script src=\"https://maps.googleapis.com/maps/api/js?key="
     "[[gkey]]&callback=initMap\"></script>\n```",
     "Die GitHub Action schlägt beim Login fehl:\n```yaml\n- run: echo "
     "\"[[ghp]]\" | gh auth login --with-token\n```",
     "Wie rotiere ich diesen Anthropic-Key, der versehentlich im Log "
     "gelandet ist?\n```\nclient = anthropic.Anthropic(api_key=\"[[sk_ant]]\""
     ")\n```",
     "Mein curl gibt 403 zurück:\n```\ncurl -H \"Authorization: [[bearer]]\" "
     "https://api.example.de/v2/orders/[[neg_order]]\n```"],
    Opt(0.5, ["Ich nutze [[neg_version]].",
              "Request-ID laut Antwort: [[neg_uuid]]",
              "Das passiert erst seit dem Deploy von Commit [[neg_sha]].",
              "Bitte erklär kurz, was ich falsch mache."]))

scn("de_banking", "de",
    ["Ich möchte [[neg_price_de]] an [[full]] überweisen, IBAN [[iban]]. "
     "Welche Angaben brauche ich noch?",
     "Meine Bank sagt, die IBAN [[iban]] gehört nicht zu [[full]]. Was kann "
     "ich tun?",
     "Hilf mir, einen Dauerauftrag einzurichten: Empfänger [[full]], IBAN "
     "[[iban_de]], monatlich [[neg_price_de]] zum 1.",
     "Ich habe versehentlich [[neg_price_de]] an die falsche IBAN "
     "([[iban_de]]) überwiesen. Wie bekomme ich das Geld zurück?",
     "Schreib eine SEPA-Lastschriftmandat-Vorlage für [[full:p0]], Konto "
     "[[iban_de]], Gläubiger [[neg_company]].",
     "Auf meiner Kreditkartenabrechnung ([[card]]) taucht eine Buchung über "
     "[[neg_price_de]] bei [[neg_company]] auf, die ich nicht kenne. "
     "Schreib mir einen Widerspruch.",
     "Meine Karte [[card]] wurde gesperrt, nachdem ich in [[neg_city]] "
     "getankt habe. Wie formuliere ich die Bitte um Entsperrung?",
     "Kann ich für die Mietkaution ([[neg_price_de]]) an [[herrn:p1]] "
     "einfach auf [[iban]] überweisen oder brauche ich ein Kautionskonto?"],
    Opt(0.4, ["Meine eigene IBAN: [[iban_de]].",
              "Karte läuft ab 12/27, Kartennummer [[card]].",
              "Telefonisch bin ich unter [[phone]] erreichbar.",
              "Meine Anschrift: [[addr_de]]."]),
    sep=" ")

scn("de_tenancy", "de",
    ["Schreib eine Kündigung meiner Wohnung in der [[addr_de_full]] zum "
     "[[neg_date_de]].",
     "Formuliere eine Mängelanzeige: In meiner Wohnung ([[street_de]], 3. OG) "
     "schimmelt seit [[neg_duration]] das Bad.",
     "Ich ziehe aus der [[street_de]] aus und in die [[addr_de_full]] ein. "
     "Schreib eine Nachricht an die Hausverwaltung.",
     "Bitte einen Untermietvertrag entwerfen: Zimmer in der "
     "[[addr_de_full]], Untermieterin [[full:p2f]], ab [[neg_date_de]], "
     "Miete [[neg_price_de]] warm."],
    ["Vermieter ist [[herr:p1]], [[addr_de_full]].",
     "Die Vermieterin heißt [[full:p1f]], E-Mail [[email:p1]].",
     "Hausverwaltung: [[neg_company]], Ansprechpartner [[herr_m:p1]], "
     "[[tel]].",
     "Vermieter: [[full:p1]] ([[phone]])"],
    Opt(0.5, ["Die Kaution ([[neg_price_de]]) bitte auf [[iban_de]] zurück.",
              "Meine neue Adresse ab dem [[neg_date_de]]: [[addr_de_full]].",
              "Die Wohnungsübergabe kann am [[neg_date_de]] stattfinden."]),
    ["[[sig_de]]"], sep="\n")

scn("de_doctor", "de",
    ["Formuliere eine Terminabsage für [[arzt]], Tel. [[phone_de]]. Mein "
     "Termin war am [[neg_date_de]] um [[neg_time]] Uhr.",
     "Schreib eine kurze Mail an [[arzt:p1]], dass ich den Befund vom "
     "[[neg_date_de]] per Post an [[addr_de_full]] brauche.",
     "Ich brauche eine Überweisung zum Kardiologen. Meine Hausärztin ist "
     "[[arzt:p1f]], die Praxis hat die Nummer [[phone_de]].",
     "Kannst du das Rezept für [[full:p0]] (geb. [[dob_de:p0]]) "
     "nachbestellen? "
     "Praxis-Mail: [[email]]",
     "Übersetze für meinen Vater [[full:p2m]] diesen Arztbrief ins Türkische: "
     "Patient geb. [[dob_de:p2m]], Diagnose Bluthochdruck."],
    Opt(0.5, ["Versichert bin ich bei der [[neg_kasse]], Nummer [[kvnr]].",
              "Ich bin unter [[phone]] erreichbar.",
              "Danke!"]),
    sep=" ")

scn("de_json_convert", "de",
    ["Konvertiere dieses JSON in eine CSV-Tabelle:",
     "Validiere dieses JSON und sag mir, welche Felder fehlen:",
     "Schreib ein Python-Skript, das diese Datensätze in eine SQLite-Tabelle "
     "importiert:",
     "Mach daraus bitte YAML:"],
    [D("""
        {"kunde": {"name": "[[full:p1]]", "email": "[[email:p1]]",
          "telefon": "[[phone]]", "iban": "[[iban]]"},
         "bestellung": "[[neg_order]]", "betrag": 129.99}"""),
     D("""
        [
          {"vorname": "[[first:p1]]", "nachname": "[[last:p1]]", "geburtsdatum": "[[dob_iso:p1]]", "plz": "[[neg_plz]]"},
          {"vorname": "[[first:p2]]", "nachname": "[[last:p2]]", "geburtsdatum": "[[dob_iso:p2]]", "plz": "[[neg_plz]]"}
        ]"""),
     D("""
        {"id": "[[neg_uuid]]", "kontakt": {"name": "[[full:p1]]",
         "adresse": "[[addr_de_full]]", "mobil": "[[phone_de]]"},
         "erstellt": "[[neg_ts]]"}"""),
     D("""
        {"mitarbeiter": "[[full:p1]]", "steuer_id": "[[steuerid]]",
         "sv_nummer": "[[rvnr:p1]]", "eintritt": "[[neg_date_de]]"}"""),
     D("""
        {"user": {"email": "[[email]]", "last_login_ip": "[[ip]]",
          "created_at": "[[neg_ts]]", "plan": "pro"}}""")])

scn("de_sql", "de",
    ["Warum schlägt dieser Insert fehl?",
     "Optimiere bitte diese Query:",
     "Wie anonymisiere ich diese Testdaten vor dem Export?"],
    ["```sql\nINSERT INTO kunden (name, email, telefon, iban) VALUES "
     "('[[full]]', '[[email]]', '[[phone]]', '[[iban]]');\n```\nFehler: "
     "duplicate key value violates unique constraint \"kunden_email_key\"",
     "```sql\nSELECT * FROM bestellungen b JOIN kunden k ON k.id = b.kunde_id"
     "\nWHERE k.email = '[[email]]' AND b.created_at > '[[neg_ts]]';\n```",
     "```sql\nUPDATE mitarbeiter SET strasse = '[[street_de]]', "
     "telefon = '[[phone_de]]' WHERE personalnr = [[neg_count]];\n```",
     "```sql\nINSERT INTO patienten (name, geburtsdatum, kvnr) VALUES\n"
     "  ('[[full]]', '[[dob_iso]]', '[[kvnr]]'),\n  ('[[full]]', "
     "'[[dob_iso]]', '[[kvnr]]');\n```"],
    Opt(0.4, ["Datenbank: [[neg_version]].",
              "Die Tabelle hat ca. [[neg_count]] Zeilen.",
              "Der DB-Server steht auf [[ipv4]]."]))

scn("de_chat_translate", "de",
    ["Übersetze ins Englische:", "Bitte korrigiere diese Nachricht:",
     "Mach das freundlicher:", "Kürze diese WhatsApp-Nachricht:"],
    ["Hallo [[first:p1]], kannst du mir bis [[neg_date_de]] die Unterlagen "
     "schicken? Meine Adresse ist [[addr_de_full]]. Danke, [[first:p0]]",
     "Hi [[first:p1]], die Party ist bei mir in der [[street_de]], ab "
     "[[neg_time]]. Bring [[first:p2]] mit! Ruf an, falls was ist: "
     "[[phone_de]]",
     "Liebe [[first:p1f]], ich hab dir das Geld für das Konzert überwiesen "
     "([[neg_price_de]] an [[iban_de]]). LG [[first:p0]]",
     "[[sg:p1]] anbei der Vertrag zurück, unterschrieben. Bei Fragen "
     "erreichen Sie mich unter [[phone]] oder [[email:p0]].",
     "Hey [[first:p1]], mein neuer Nachbar [[herr_m:p2]] aus der "
     "[[street_de]] fragt, ob du ihm deine Nummer gibst."])

scn("de_colleague", "de",
    ["Mein Kollege [[full:p1m]] kommt ständig zu spät. Wie spreche ich das "
     "bei meiner Chefin [[frau:p2]] an, ohne ihn anzuschwärzen?",
     "Wie gratuliere ich [[full:p1]] zum 25. Dienstjubiläum, ohne "
     "kitschig zu klingen?",
     "Schreib eine Laudatio für [[full:p1m]], der nach [[neg_count]] "
     "Projekten in Rente geht. Sein Spitzname ist [[first:p1m]].",
     "Ich heiße [[first:p0]] und bin neu im Team von [[herr:p1]]. Wie stelle "
     "ich mich in der ersten Teamrunde vor?",
     "Hallo, mein Name ist [[full:p0]] und ich brauche Hilfe bei einer "
     "Gehaltsverhandlung mit [[herrn:p1]].",
     "Fasse das Protokoll zusammen: Anwesend [[full]], [[full]], [[full]]. "
     "Beschlüsse: Budget [[neg_price_de]], Start [[neg_date_de]].",
     "[[full:p1]] und [[full:p2]] aus der Buchhaltung streiten sich ständig. "
     "Wie moderiere ich das?",
     "Ich bin [[first:p0]], [[neg_age]] Jahre alt, und möchte meinem Chef "
     "[[herrn_m:p1]] sagen, dass ich kündige."],
    Opt(0.3, ["Antworte kurz.", "Bitte in Du-Form.",
              "Das Gespräch ist am [[neg_date_de]] in [[neg_room]]."]),
    sep=" ")

scn("de_pension", "de",
    ["Ich habe Post von der Deutschen Rentenversicherung bekommen. Meine "
     "Versicherungsnummer ist [[rvnr:p0]]. Was bedeutet Kontenklärung?",
     "Der Arbeitgeber fragt nach meiner Sozialversicherungsnummer – ist das "
     "[[rvnr:p0]]?",
     "Kannst du prüfen, ob die Rentenversicherungsnummer [[rvnr:p0]] zu "
     "meinem Geburtsdatum [[dob_de:p0]] passt?",
     "Für den Minijob brauche ich die SV-Nummer. Meine lautet [[rvnr:p0]], "
     "die meiner Tochter [[first:p1f]] [[rvnr:p1f]].",
     "Schreib an die DRV: Versicherungsnummer [[rvnr:p0]], Bitte um "
     "Rentenauskunft.",
     "Auf meinem SV-Ausweis steht [[rvnr:p0]], aber der Arbeitgeber hat "
     "etwas anderes gemeldet."],
    Opt(0.5, ["Ich heiße [[full:p0]].", "Anschrift: [[addr_de_full]].",
              "Geboren bin ich am [[dob_de:p0]] in [[neg_city]].",
              "Rückfragen: [[phone_de]]"]),
    sep=" ")

scn("de_logs_json", "de",
    ["Fasse die Fehler in diesem Log zusammen:",
     "Welche Nutzer sind betroffen?",
     "Schreib eine jq-Abfrage, die nur die errors ausgibt:",
     "Sind das Brute-Force-Versuche?"],
    ["[[log_app]]\n[[log_app]]\n[[log_plain]]",
     "[[log_app]]\n[[log_plain]]\n[[log_app]]\n[[log_app]]",
     "[[log_plain]]\n[[log_app]]"],
    sep="\n")

scn("de_compose", "de",
    ["Ist diese docker-compose.yml so okay?",
     "Wie lagere ich die Secrets aus dieser Compose-Datei aus?",
     "Warum startet der Container nicht?"],
    ["```yaml\nservices:\n  app:\n    image: registry.example.com/shop:"
     "[[neg_semver]]\n    environment:\n      DB_HOST: [[ipv4]]\n      "
     "SLACK_BOT_TOKEN: [[slack]]\n      OPENAI_API_KEY: [[sk_openai]]\n```",
     "```yaml\nservices:\n  worker:\n    image: python:3.12-slim\n    "
     "environment:\n      - ANTHROPIC_API_KEY=[[sk_ant]]\n      - "
     "REDIS_HOST=[[ipv4]]\n    ports:\n      - \"8080:8080\"\n```",
     "```yaml\nenv:\n  GOOGLE_API_KEY: [[gkey]]\n  GITHUB_TOKEN: [[ghp]]\n  "
     "LOG_LEVEL: debug\n```"],
    Opt(0.5, ["Fehler: exited with code 137 nach [[neg_duration]].",
              "Docker [[neg_semver]], Compose v2.",
              "Image-Digest: sha256:[[neg_sha256]]"]))

scn("de_git", "de",
    ["Wie ändere ich Autor und E-Mail dieses Commits?",
     "Was bedeutet diese git-log-Ausgabe?",
     "Wie squashe ich diese Commits?"],
    ["```\ncommit [[neg_sha]]\nAuthor: [[full:p0]] <[[email:p0]]>\n"
     "Date:   Tue Mar 12 10:15:00 2024 +0100\n\n    Fix Rundungsfehler in "
     "Rechnung\n```",
     "```\n[[neg_sha_short]] Merge branch 'main' ([[full:p0]])\n"
     "[[neg_sha_short]] Preise angepasst ([[full:p1]])\n```",
     "```\ngit config user.name \"[[full:p0]]\"\ngit config user.email "
     "\"[[email:p0]]\"\n```"],
    Opt(0.4, ["Git-Version [[neg_semver]].",
              "Es betrifft nur die letzten 3 Commits."]))

scn("de_application", "de",
    ["Schreib ein Anschreiben für meine Bewerbung bei [[neg_company]].",
     "Hilf mir bei einem Motivationsschreiben.",
     "Formuliere eine Initiativbewerbung."],
    ["Ansprechpartnerin ist [[frau:p1]].", "Ansprechpartner: [[herr:p1]].",
     "Die Stelle hat [[full:p1]] ausgeschrieben.",
     "Kontakt laut Anzeige: [[full:p1]], [[email:p1]]"],
    ["Ich heiße [[full:p0]], wohne in der [[addr_de_full]] und bin unter "
     "[[phone_de]] erreichbar.",
     "Mein Name ist [[full:p0]], ich bin [[neg_age]] und habe [[neg_count]] "
     "Projekte geleitet.",
     "Kontaktdaten: [[full:p0]], [[email:p0]], [[tel]].",
     "Ich bin [[first:p0]], gelernte Mediengestalterin, und suche ab "
     "[[neg_date_de]] eine neue Stelle."],
    sep=" ")

scn("de_liability", "de",
    ["Mein Nachbar [[herr:p1]] hat beim Rasenmähen mein Auto "
     "([[plate]] – Kennzeichen) beschädigt.",
     "Meine Tochter hat bei [[full:p1]] eine Vase umgestoßen, Schaden "
     "[[neg_price_de]].",
     "Wasserschaden: Die Wohnung von [[herr:p1]] unter uns ([[street_de]]) "
     "ist betroffen."],
    ["Schreib eine Schadensmeldung an meine Haftpflicht, Versicherungsschein "
     "[[neg_policy]].",
     "Wie melde ich das der Versicherung (Vertrag [[neg_policy]])?",
     "Was muss in die Meldung rein?"],
    Opt(0.5, ["Ich bin [[full:p0]], [[tel]].",
              "Meine Adresse: [[addr_de_full]]."]),
    sep=" ")

scn("de_kindergeld", "de",
    ["Für den Kindergeldantrag:", "Elterngeldantrag, bitte prüfen:",
     "Anmeldung in der Kita – sind die Angaben vollständig?"],
    ["Kind: [[full:p1]], geboren am [[dob_de:p1]], Steuer-ID des Kindes "
     "[[steuerid]].",
     "Kind [[first:p1]] [[last:p0]], geb. [[dob_de:p1]]; Mutter [[full:p0]]",
     "Name des Kindes: [[full:p1]], Geburtsdatum [[dob_de:p1]], "
     "Identifikationsnummer [[steuerid]]"],
    Opt(0.7, ["Antragsteller: [[full:p0]], Steuer-ID [[steuerid]], IBAN "
              "[[iban_de]]",
              "Elternteil: [[full:p0]], [[addr_de_full]]",
              "Kontakt: [[email:p0]]"]),
    sep="\n")

scn("de_sick_note", "de",
    ["Ich bin seit [[neg_date_de]] krankgeschrieben. Versichertennummer "
     "[[kvnr]], Arbeitgeber [[neg_company]]. Muss ich die AU selbst "
     "schicken?",
     "Meine eGK ist abgelaufen; die alte Krankenversichertennummer war "
     "[[kvnr]]. Bleibt die gleich?",
     "Die [[praxis]] sagt, meine KVNR [[kvnr]] sei ungültig. Was "
     "tun?",
     "Wie beantrage ich Krankengeld? KVNR [[kvnr]], [[neg_kasse]]."],
    Opt(0.5, ["Ich heiße [[full:p0]].",
              "Geburtsdatum: [[dob_de:p0]]",
              "Antwort bitte an [[email:p0]]."]),
    sep=" ")

scn("de_us_mix", "de",
    ["Ich arbeite remote für eine US-Firma und soll meine SSN angeben "
     "([[ssn]]). Muss ich trotzdem meine Steuer-ID [[steuerid]] nennen?",
     "Mein Mann [[full:p1m]] hat eine US-Sozialversicherungsnummer "
     "([[ssn]]). Muss er sie in der deutschen Steuererklärung angeben?",
     "Für das W-8BEN-Formular: SSN [[ssn]], deutsche IdNr. [[steuerid]]. Ist "
     "das richtig so?",
     "Die US-Bank verlangt meine Social Security Number [[ssn]] und eine "
     "Adresse: [[addr_de_full]]. Reicht die deutsche?"],
    Opt(0.4, ["Ich bin [[full:p0]].", "Geboren am [[dob_de:p0]]."]),
    sep=" ")

scn("de_vat_b2b", "de",
    ["Wir liefern an einen Kunden in Österreich (UID [[neg_uid_at]]). Unsere "
     "USt-IdNr. ist [[ustid]]. Muss 'Steuerschuldnerschaft des "
     "Leistungsempfängers' auf die Rechnung?",
     "Wie prüfe ich die Umsatzsteuer-Identifikationsnummer [[ustid]] eines "
     "Lieferanten?",
     "Im Impressum steht USt-ID: [[ustid]]. Muss da auch die Steuernummer "
     "hin?",
     "Ein Kunde hat die USt-IdNr. [[ustid]] angegeben, das BZSt sagt aber "
     "'ungültig'. Was nun?",
     "Erstelle ein Impressum: [[neg_company]], [[addr_de_full]], "
     "Geschäftsführer [[full]], USt-IdNr. [[ustid]], [[tel]]."],
    Opt(0.4, ["Rechnungsbetrag: [[neg_price_de]].",
              "Ansprechpartner bei uns: [[full]], [[email]]"]),
    sep=" ")

scn("de_ipv6", "de",
    ["Meine FritzBox zeigt die IPv6-Adresse [[ipv6]], aber von außen ist der "
     "Server nicht erreichbar. Was mache ich falsch?",
     "Was bedeutet diese Ausgabe von ip addr?\n```\ninet6 [[ipv6]]/64 scope "
     "global dynamic\ninet [[ipv4]]/24 scope global eth0\n"
     "```",
     "Wie trage ich den Server [[ipv6]] als AAAA-Record ein?",
     "Ping auf [[ipv6]] geht, auf [[ipv4]] nicht. Woran liegt das?"],
    Opt(0.4, ["Router-Firmware FRITZ!OS [[neg_semver]].",
              "MAC der Netzwerkkarte: [[neg_mac]]"]),
    sep=" ")

scn("de_csv", "de",
    ["Bereinige diese CSV (Dubletten entfernen):",
     "Sortiere die Liste nach Nachname:",
     "Erstelle daraus Serienbrief-Felder:"],
    ["name;email;telefon\n[[full:p1]];[[email:p1]];[[phone]]\n"
     "[[full:p2]];[[email:p2]];[[phone]]\n[[full:p1]];[[email:p1]];"
     "[[phone]]",
     "Nachname,Vorname,Straße,PLZ,Ort\n[[last:p1]],[[first:p1]],"
     "[[street_de]],[[neg_plz]],[[neg_city]]\n[[last:p2]],[[first:p2]],"
     "[[street_de]],[[neg_plz]],[[neg_city]]",
     "Kunde | IBAN | Betrag\n[[full]] | [[iban]] | [[neg_price_de]]\n"
     "[[full]] | [[iban]] | [[neg_price_de]]"],
    sep="\n")

scn("de_travel", "de",
    ["Buche für mich: Flug nach Lissabon am [[neg_date_de]]. Reisender "
     "[[full:p0]], geb. [[dob_de:p0]], Reisepass [[pass]].",
     "Für das ESTA-Formular: Passnummer [[pass]], Geburtsdatum "
     "[[dob_de:p0]]. Was trage ich bei 'Arbeitgeber' ein?",
     "Kannst du das Visaformular vorbereiten? Name [[full:p0]], "
     "Reisepassnummer [[pass]], Adresse [[addr_de_full]].",
     "Die Airline will für die Einreise die Nummer meines Reisepasses: "
     "[[pass]]. Muss ich das online eintragen?"],
    Opt(0.4, ["Buchungscode [[neg_order]].",
              "Abflug [[neg_time]] von Gate B12.",
              "Telefon für die Airline: [[phone]]"]),
    sep=" ")

scn("de_gdpr", "de",
    ["Schreib ein Auskunftsersuchen nach Art. 15 DSGVO an [[neg_company]].",
     "Formuliere einen Löschantrag nach DSGVO.",
     "Ich will wissen, welche Daten ein Onlineshop über mich speichert."],
    ["Meine Daten: [[full:p0]], [[email:p0]], Kunde seit [[neg_yr]], "
     "Kundennummer [[neg_customer]].",
     "Ich heiße [[full:p0]], wohne in der [[addr_de_full]], E-Mail "
     "[[email:p0]].",
     "Absender: [[full:p0]], [[addr_de_full]], [[tel]]"],
    ["[[sig_de]]"])

scn("de_secret_generic", "de",
    ["Ich habe aus Versehen meinen API-Key in einen öffentlichen Chat "
     "kopiert: [[secret]]. Wie widerrufe ich ihn?",
     "Ist dieser Schlüssel noch gültig? [[secret]]",
     "In unserer config.toml steht:\n```toml\n[api]\nkey = \"[[secret]]\"\n"
     "timeout = 30\n```\nWie lade ich das aus einer Umgebungsvariable?",
     "Mein Kollege hat mir per Mail den Token [[secret]] geschickt. Ist das "
     "ein Sicherheitsproblem?",
     "Fehlermeldung: `invalid_api_key: [[secret]]` – was bedeutet das?",
     "Der Pre-Commit-Hook meckert über Zeile 12: `token = \"[[secret]]\"`. "
     "Fehlalarm?",
     "Schreib ein Bash-Skript, das prüft, ob der Key [[secret]] noch "
     "irgendwo in /var/log vorkommt.",
     "Welcher Dienst hat Keys, die so aussehen: [[secret]]?",
     "Unser Secret-Scanner hat in Commit [[neg_sha_short]] das hier "
     "gefunden: [[secret]] – wie schreibe ich die Git-History um?"],
    Opt(0.4, ["Der Key ist seit [[neg_date_de]] aktiv.",
              "Wir nutzen [[neg_product]].",
              "Bitte schnell, ist dringend!"]),
    sep=" ", weight=2.0)

scn("de_http", "de",
    ["Warum liefert die API bei diesem Request 401?",
     "Unser Gateway hat diesen Header-Dump geloggt, ist das ok?",
     "Wie prüfe ich, ob das Token hier abgelaufen ist?",
     "Der Request kommt im Backend ohne Authorization-Header an:"],
    ["```http\nGET /api/v1/me HTTP/1.1\nHost: api.example.de\nAuthorization: "
     "[[bearer]]\nX-Forwarded-For: [[ip]]\nX-Request-ID: [[neg_uuid]]\n```",
     "```\nauthorization: [[bearer]]\nx-real-ip: [[ipv4]]\nuser-agent: "
     "python-requests/2.31.0\n```",
     "```js\nfetch(\"https://api.example.de/bestellungen\", {\n  headers: { "
     "Authorization: \"[[bearer]]\" }\n});\n```",
     "```\n[[log_plain]]\nincoming request from [[ipv4]]: Authorization: "
     "[[bearer]]\n```"],
    Opt(0.4, ["Server: [[neg_version]].", "Seit [[neg_ts]] passiert das.",
              "Der Client läuft auf [[ipv4]]."]))

scn("de_dob_prose", "de",
    ["Für die Anmeldung im Sportverein: [[full:p1]], [[gebdob:p1]], wohnhaft "
     "[[addr_de_full]]. Schreib eine kurze Anmeldung.",
     "Mein Vater [[full:p2m]] ([[gebdob:p2m]]) braucht einen Pflegegrad. Wie "
     "stelle ich den Antrag?",
     "Die Bank verlangt für [[full:p0]], [[gebdob:p0]], eine "
     "Schufa-Auskunft. Wie bekomme ich die kostenlos?",
     "Versicherungsantrag: [[full]], [[gebdob]], Beruf Lehrerin, "
     "Nichtraucherin. Welche Fragen kommen noch?",
     "Schreib eine Vollmacht: Ich, [[full:p0]], [[gebdob:p0]], bevollmächtige "
     "[[full:p1]], [[gebdob:p1]], mich beim Bürgeramt zu vertreten.",
     "Meine Oma [[first:p2f]] hat am [[neg_date_de]] Geburtstag und wird 90 "
     "– geboren ist sie am [[dob_de:p2f]]. Schreib ein Gedicht für die "
     "Karte.",
     "Testament-Entwurf: [[full:p0]], [[gebdob:p0]], wohnhaft in der "
     "[[addr_de_full]], setzt [[full:p1]] als Alleinerbin ein."],
    Opt(0.4, ["Eintrittsdatum ist der [[neg_date_de]].",
              "Die Firma wurde am [[neg_date_de]] gegründet, falls das "
              "wichtig ist.",
              "Rückfragen an [[email:p0]]."]),
    sep=" ")

# --- German hard negatives (no entity at all) -----------------------------

scn("de_neg_tech", "de",
    ["Wie konvertiere ich in Python einen Zeitstempel wie [[neg_ts]] in "
     "lokale Zeit? Ich nutze [[neg_version]].",
     "Git sagt 'detached HEAD' bei Commit [[neg_sha]]. Wie komme ich zurück "
     "auf main?",
     "Der Docker-Build schlägt fehl: sha256:[[neg_sha256]]: not found. "
     "Basisimage python:[[neg_semver]]-slim.",
     "Nach dem Windows-Update auf [[neg_winver]] hat die Netzwerkkarte "
     "([[neg_mac]]) keine Verbindung mehr.",
     "Was bedeutet dieser Fehler?\n```\n[[log_plain]]\n[[log_plain]]\n```",
     "Wie setze ich in Kubernetes ein Memory-Limit von [[neg_qty]]? Pod-ID "
     "[[neg_uuid]].",
     "In der Doku steht OPENAI_API_KEY=[[neg_placeholder]] – wo bekomme ich "
     "meinen eigenen Key her?",
     "Ist dieses Zertifikat noch gültig?\n```\n[[neg_cert]]\n```",
     "Der Prozess [[neg_pid]] hängt bei [[neg_pct]] CPU, Adresse "
     "[[neg_hex]]. Wie debugge ich das?",
     "Release [[neg_version]] bricht die Migration [[neg_uuid]] ab, "
     "Timestamp [[neg_ts]].",
     "Wie lese ich in Bash eine Datei mit [[neg_count]] Zeilen zeilenweise "
     "ein?",
     "Unser Redis auf Port [[neg_port]] antwortet mit 'LOADING'. Seit "
     "[[neg_hms]] geht nichts mehr.",
     "Der Cronjob lief um [[neg_hms]] und nochmal um [[neg_hms]], obwohl er "
     "nur einmal täglich laufen soll. Image [[neg_sha256]].",
     "Warum zeigt mein Build 'Python [[neg_semver]]' an, obwohl "
     "[[neg_version]] installiert ist?"],
    Opt(0.4, ["Danke!", "Bitte mit Beispiel.",
              "Version: [[neg_version]]."]),
    sep=" ", neg=True, weight=1.3)

scn("de_neg_office", "de",
    ["Meine Bestellung [[neg_order]] über [[neg_price_de]] ist immer noch "
     "nicht da. Laut Shop sollte sie am [[neg_date_de]] kommen. Wie "
     "formuliere ich eine Beschwerde?",
     "Rechne das Rezept für 8 Personen um: [[neg_qty]] Milch, [[neg_qty]] "
     "Mehl, 3 Eier, [[neg_qty]] Zucker.",
     "Im Meeting in [[neg_room]] um [[neg_time]] geht es um das Budget "
     "[[neg_yr]] ([[neg_price_de]]). Schreib eine Agenda.",
     "Vergleiche die Tarife von [[neg_kasse]] und [[neg_kasse]] für "
     "Studierende.",
     "Wir ziehen von [[neg_city]] nach [[neg_city]] (PLZ [[neg_plz]]). Welche "
     "Behördengänge sind nötig?",
     "Die Rechnung [[neg_invoice]] vom [[neg_date_de]] weist [[neg_price_de]] "
     "netto aus. Stimmt bei 19 % USt der Bruttobetrag [[neg_price_de]]?",
     "Ist die [[neg_street_only]] in [[neg_city]] wegen Bauarbeiten "
     "gesperrt?",
     "Schreib eine Pressemitteilung: [[neg_company]] übernimmt "
     "[[neg_company]] für [[neg_price_de]] Mio.",
     "Wie lange dauert die Extended Edition von Der Herr der Ringe?",
     "Unsere Hotline hat die [[neg_phone_short]]. Wie richte ich eine "
     "Weiterleitung ein?",
     "Die Sendung [[neg_tracking]] hängt seit [[neg_duration]] im "
     "Paketzentrum. Was kann ich tun?",
     "Kündigungsfrist: Vertrag [[neg_policy]] läuft bis [[neg_date_de]], "
     "drei Monate zum Monatsende – wann muss die Kündigung raus?",
     "Wie viel sind [[neg_qty]] in Tassen?",
     "Bestellnummer [[neg_order]], Rechnungsnummer [[neg_invoice]] – der "
     "Shop reagiert seit [[neg_duration]] nicht. Wie formuliere ich eine "
     "Mahnung?",
     "Fasse den Termin zusammen: [[neg_date_de]], [[neg_time]] Uhr, "
     "[[neg_room]], Thema Quartalszahlen ([[neg_pct]] Wachstum).",
     "Wie verbinde ich [[neg_product]] mit [[neg_product]]?",
     "Die Firma [[neg_company]] wurde am [[neg_date_de]] gegründet. Schreib "
     "einen Jubiläumspost."],
    sep=" ", neg=True, weight=1.3)

scn("de_neg_checksum", "de",
    ["Warum lehnt mein Onlinebanking die IBAN [[neg_iban_bad]] ab? Ich habe "
     "sie von einer Rechnung abgetippt.",
     "Ist die Steuer-ID [[neg_taxid_bad]] gültig? ELSTER meldet "
     "'Prüfziffer falsch'.",
     "Das Formular meldet 'ungültige Kartennummer' bei [[neg_card_bad]]. "
     "Habe ich mich vertippt?",
     "Der Validator sagt, die USt-IdNr. [[neg_vat_bad]] sei fehlerhaft. "
     "Stimmt die Prüfziffer?",
     "Die Versichertennummer [[neg_kvnr_bad]] wird vom Portal abgelehnt – "
     "woran liegt das?",
     "Schreib eine Python-Funktion, die IBANs prüft, und teste sie mit "
     "[[neg_iban_bad]] (soll False liefern).",
     "Wie funktioniert der Luhn-Algorithmus? Beispiel: [[neg_card_bad]] "
     "fällt durch.",
     "Bei der Lohnabrechnung wird [[neg_taxid_bad]] als Steuer-ID "
     "zurückgewiesen."],
    Opt(0.3, ["Danke.", "Bitte Schritt für Schritt erklären."]),
    sep=" ", neg=True, weight=0.8)


# === English ==============================================================

scn("en_support_ticket", "en",
    ["Help me reply to this support ticket:",
     "Summarize this customer complaint and draft a polite answer:",
     "Classify this ticket (billing, shipping, technical) and suggest a "
     "reply:",
     "Can you rewrite our answer to this ticket so it sounds less robotic?",
     "Please triage the following message from our helpdesk:",
     "Draft a short, empathetic response to this:"],
    ["Hi there,\nI ordered a standing desk on [[neg_date_en]] (order "
     "[[neg_order]]) and it still hasn't arrived at [[addr_en_full]].",
     "Hello,\nyou charged my card [[card]] twice for invoice [[neg_invoice]] "
     "([[neg_price_en]] each). Please refund one of them.",
     "To whom it may concern,\nsince updating to [[neg_version]] the app "
     "crashes on start. My account email is [[email:p0]].",
     "Hey,\nI moved, so please update my shipping address to "
     "[[addr_en_full]] for subscription [[neg_order]].",
     "[[dear:p1]]\nyour colleague [[mr:p2]] promised me a credit of "
     "[[neg_price_en]] on the phone, but it never showed up.",
     "Hello support,\nthe parcel with tracking number [[neg_tracking]] was "
     "marked as delivered to [[street_en]], but nothing is here.",
     "Hi,\nmy device (serial [[neg_serial]]) stopped working after "
     "[[neg_duration_en]]. I'd like a replacement."],
    Opt(0.75, ["You can reach me at [[phone]] or [[email:p0]].",
               "Please call me back: [[tel]], ideally after [[neg_time]].",
               "Refund to my account please: [[iban]], account holder "
               "[[full:p0]].",
               "My customer number is [[neg_customer]], [[tel]].",
               "For verification, my date of birth is [[dob_en:p0]].",
               "Reply to [[email:p0]] please, not to my old address "
               "[[email]].",
               "I'm available at [[phone_us]] during business hours."]),
    ["[[sig_en]]"])

scn("en_email_draft", "en",
    ["Write an email to [[mr:p1]] ([[email:p1]]) saying our meeting on "
     "[[neg_date_en]] moves to [[neg_time]].",
     "Draft a polite rejection for [[full:p1]] after the interview. Their "
     "address is [[email:p1]].",
     "Please write a payment reminder to [[mr:p1]]: invoice [[neg_invoice]] "
     "over [[neg_price_en]] was due on [[neg_date_en]].",
     "Help me congratulate [[full:p1f]] on passing her probation. Casual "
     "but professional.",
     "I need a short note to [[mr:p1]] asking them to call me back at "
     "[[phone]].",
     "Turn these bullet points into an email to [[full:p1]]: quote "
     "[[neg_invoice]] accepted, delivery in week 14, questions to "
     "[[email:p0]].",
     "Write an out-of-office reply: I'm away until [[neg_date_en]], urgent "
     "matters go to [[full:p2]] at [[email:p2]].",
     "Compose an intro email connecting [[full:p1]] and [[full:p2]]; both "
     "work on payments."],
    Opt(0.6, ["My signature: [[full:p0]], [[phone]], [[email:p0]].",
              "Sign it as [[full:p0]], Head of Procurement at "
              "[[neg_company]].",
              "CC [[email]].",
              "Add my details at the bottom: [[full:p0]], [[addr_en_full]], "
              "[[tel]].",
              "Mention that [[first:p2]] will cover for me."]))

scn("en_resume", "en",
    ["Please improve the header of my resume:",
     "Make my CV more concise:",
     "Format this resume in Markdown:",
     "Check my resume for typos:",
     "Rewrite this CV for a product manager role:"],
    ["[[full:p0]]", "Name: [[full:p0]]", "**[[tfull:p0]]**",
     "[[full:p0]] – Senior Data Engineer"],
    ["[[phone]] | [[email:p0]] | [[addr_en]]",
     "Email: [[email:p0]]\nPhone: [[phone]]\nAddress: [[addr_en_full]]",
     "[[email:p0]] · [[tel]]", "Contact: [[email:p0]], [[phone]]"],
    Opt(0.4, ["Date of birth: [[dob_en:p0]]", "DOB: [[dob_en:p0]]",
              "Born [[dob_en:p0]]"]),
    ["\nExperience\n[[neg_yr]]–present: Data Engineer, [[neg_company]]\n"
     "[[neg_yr]]–[[neg_yr]]: Analyst, [[neg_company]]",
     "\nSkills: Python, SQL, [[neg_product]], [[neg_product]]\nLanguages: "
     "English, German (B2)",
     "\nEducation: BSc Computer Science, [[neg_yr]]\nCertifications: AWS "
     "Solutions Architect ([[neg_yr]])"],
    Opt(0.3, ["References: [[mr:p2]], [[neg_company]], [[phone]]",
              "References available on request.",
              "Reference: [[full:p2]] ([[email:p2]])"]),
    sep="\n")

scn("en_hr_onboarding", "en",
    ["New hire onboarding, please create the HRIS entry:",
     "Check this I-9 / W-4 data for missing fields:",
     "Turn this into a welcome letter for the new employee:",
     "Format as a table for payroll:",
     "Is anything missing for payroll setup?"],
    ["Employee: [[full:p1]]", "Name: [[full:p1]]",
     "First name: [[first:p1]]\nLast name: [[last:p1]]"],
    ["DOB: [[dob_en:p1]]", "Date of birth: [[dob_en:p1]]",
     "Birth date: [[dob_en:p1]]"],
    Opt(0.8, ["SSN: [[ssn]]", "Social Security Number: [[ssn]]",
              "SSN [[ssn]]", "Soc. Sec. No.: [[ssn]]"]),
    Opt(0.7, ["Address: [[addr_en_full]]", "Home address: [[addr_en_full]]"]),
    Opt(0.5, ["Phone: [[phone_us]]", "Mobile: [[phone]]"]),
    Opt(0.4, ["Personal email: [[email:p1]]", "Email: [[email:p1]]"]),
    Opt(0.4, ["Direct deposit: routing 021000021, account [[neg_customer]]",
              "Start date: [[neg_date_en]], salary [[neg_price_en]]",
              "Employee ID: [[neg_customer]]"]),
    Opt(0.3, ["Emergency contact: [[full:p2]], [[phone_us]]"]),
    sep="\n")

scn("en_tax", "en",
    ["Quick tax question.", "I need help with my tax return.",
     "Question about US/German double taxation:",
     "My accountant is on vacation, so:"],
    ["I moved from Boston to Berlin in [[neg_yr]]; my SSN is [[ssn]] and my "
     "German tax ID (Steuer-ID) is [[steuerid]]. Where do I file?",
     "The IRS letter mentions SSN [[ssn]] but that's my wife's number; mine "
     "is [[ssn]]. How do I fix this?",
     "On my W-2 the SSN reads [[ssn]]. Is that enough to file the 1040?",
     "I'm a freelancer in Germany with VAT ID [[ustid]]. Do I charge VAT to "
     "a US client?",
     "My German Steuer-IdNr is [[steuerid]]; the employer entered "
     "[[steuerid]] instead. Will that cause trouble?",
     "For my daughter [[full:p1f]] (SSN [[ssn]], born [[dob_en:p1f]]), can I "
     "claim the child tax credit?"],
    Opt(0.5, ["Deadline is [[neg_date_en]].",
              "I earned about [[neg_price_en]] last year.",
              "Refunds to [[iban]] please, if that matters.",
              "I live at [[addr_en_full]].",
              "My name is [[full:p0]]."]),
    sep=" ")

scn("en_invoice", "en",
    ["Check this invoice for formal errors:",
     "Extract the fields as JSON:",
     "Can you turn this into a proper EU invoice?",
     "Does this invoice meet German requirements?"],
    ["[[neg_company]]\n[[addr_de_full]]", "[[neg_company]]\n[[addr_en_full]]",
     "[[neg_company]], [[addr_de_full]]"],
    ["VAT ID: [[ustid]]", "VAT No. [[ustid]]", "USt-IdNr. [[ustid]]",
     "VAT reg. number: [[ustid]]"],
    ["Invoice [[neg_invoice]], dated [[neg_date_en]]",
     "INVOICE #[[neg_invoice]] – service period [[neg_date_en]] to "
     "[[neg_date_en]]",
     "Invoice no. [[neg_invoice]]\nDate: [[neg_date_en]]"],
    ["Bill to: [[full]], [[addr_en_full]]", "Customer: [[full]] (ID "
     "[[neg_customer]])", "Attn: [[mr]]"],
    ["1 x Consulting, 3 h @ €95.00  €285.00\nTotal: [[neg_price_en]]",
     "Web design flat fee  [[neg_price_en]]\n[[neg_qty]] materials  "
     "[[neg_price_en]]",
     "Support retainer [[neg_price_en]], VAT 19 %"],
    ["Payable by [[neg_date_en]] to IBAN [[iban]] (BIC [[neg_bic]]).",
     "Bank details: [[iban]], BIC [[neg_bic]]",
     "Please transfer within 14 days to [[iban_eu]]."],
    Opt(0.4, ["Questions: [[email]]", "Phone [[phone]]",
              "Managing director: [[full]]"]),
    sep="\n")

scn("en_insurance_de", "en",
    ["I'm an expat in Germany. Help me write to my health insurer.",
     "Please draft an appeal to my German health insurance (in English, I'll "
     "translate).",
     "How do I ask my Krankenkasse to reimburse this?",
     "Write a short letter to the insurer:"],
    ["My insurance number (KVNR) is [[kvnr]].",
     "Health insurance number: [[kvnr]]",
     "Member number on the eGK card: [[kvnr]]",
     "Versichertennummer [[kvnr]] ([[neg_kasse]])"],
    ["Insured person: [[full:p0]], born [[dob_en:p0]].",
     "Name: [[full:p0]], date of birth [[dob_en:p0]]",
     "It's about my son [[first:p3m]], DOB [[dob_en]]."],
    ["The physiotherapy prescribed by [[mr:p1]] was rejected.",
     "They refused the invoice from [[mr:p1]] dated [[neg_date_en]] "
     "([[neg_price_en]]).",
     "The decision of [[neg_date_en]] (ref. [[neg_az]]) denies coverage.",
     "Only [[neg_pct]] of the dental work was covered."],
    Opt(0.6, ["My address: [[addr_de_full]].", "Phone: [[phone_de]]",
              "Reimburse to [[iban_de]] please.",
              "Email me at [[email:p0]]."]),
    ["[[sig_en]]"], sep="\n")

scn("en_documents", "en",
    ["I lost my German ID card (ID card number [[ausweis]]). What do I do "
     "now?",
     "The bank asks for my Personalausweis number for KYC. Is it "
     "[[ausweis]], the one top right?",
     "Hotel check-in form: German ID card no. [[ausweis]], valid until "
     "[[neg_date_en]].",
     "My German passport (passport number [[pass]]) expires on "
     "[[neg_date_en]]. Is that enough for a trip to Canada?",
     "The airline wants my passport number: [[pass]]. Do I include the "
     "check digit?",
     "Fill in this visa form: name [[full:p0]], date of birth [[dob_en:p0]], "
     "passport [[pass]], nationality German.",
     "I need to verify my identity online: Ausweisnummer [[ausweis]], name "
     "[[full:p0]].",
     "For the ESTA I typed passport no. [[pass]], born [[dob_en:p0]]. Did I "
     "mix up the fields?"],
    Opt(0.5, ["I live at [[addr_de_full]].",
              "My phone for questions: [[phone]]",
              "The Bürgeramt emailed me at [[email:p0]].",
              "Appointment is on [[neg_date_en]] at [[neg_time]], "
              "[[neg_room_en]]."]),
    sep=" ")

scn("en_vehicle", "en",
    ["I rented a car in Munich, German license plate [[plate]], and got a "
     "speeding ticket. Who pays?",
     "Write a complaint: someone scratched my car (number plate [[plate]]) "
     "in the office garage.",
     "A car with the registration [[plate]] (license plate) has been parked "
     "in our driveway for [[neg_duration_en]]. How do I report it?",
     "Translate to German: 'The vehicle with license plate [[plate]] is "
     "registered to [[full]].'",
     "Insurance claim for my car, license plate [[plate]], first registered "
     "[[neg_date_en]], mileage [[neg_count]] miles.",
     "I'm selling my VW (German number plate [[plate]]) to [[full]]. Draft a "
     "sales "
     "contract."],
    Opt(0.5, ["Owner: [[full:p0]], [[addr_de_full]].",
              "Policy number [[neg_policy]].",
              "Keep it short."]),
    sep=" ")

scn("en_nginx_logs", "en",
    ["Why are we getting so many 502s? Access log:",
     "Which client is hammering our API?",
     "Can you parse these log lines into CSV?",
     "Is this a bot? Here is the log:"],
    ["```\n[[log_nginx]]\n[[log_nginx]]\n[[log_nginx]]\n```",
     "[[log_nginx]]\n[[log_nginx]]",
     "```\n[[log_nginx]]\n[[log_plain]]\n[[log_nginx]]\n```"],
    Opt(0.5, ["Server is [[neg_version]] behind a load balancer at [[ip]].",
              "We already block [[ipv4]].",
              "Started at [[neg_ts]]."]))

scn("en_firewall", "en",
    ["What do these firewall logs mean?",
     "Should I worry about these ufw entries?",
     "Explain these fail2ban lines:"],
    ["[[log_ufw]]\n[[log_ufw]]", "[[log_f2b]]\n[[log_f2b]]\n[[log_sshd]]",
     "```\n[[log_ufw]]\n[[log_sshd]]\n```"],
    Opt(0.5, ["Our office IP is [[ipv4]].",
              "The host runs [[neg_version]].",
              "Gateway MAC: [[neg_mac]]"]))

scn("en_db_logs", "en",
    ["Postgres refuses connections, why?",
     "Our app can't reach the database:",
     "How do I fix pg_hba for this?"],
    ["[[log_pg]]", "[[log_pg]]\n[[log_pg]]",
     "```\ndial tcp [[ipv4]]:5432: connect: connection refused\n[[log_pg]]\n"
     "```"],
    Opt(0.5, ["DB host is [[ipv4]], app server [[ipv4]].",
              "Version [[neg_version]].",
              "Happens since [[neg_ts]]."]))

scn("en_code_secret", "en",
    ["Why do I get 401 Unauthorized?\n```python\nimport requests\nheaders = "
     "{\"Authorization\": \"[[bearer]]\"}\nr = requests.get(\"https://api."
     "example.com/v1/users\", headers=headers)\n```",
     "My script can't find the key:\n```bash\nexport OPENAI_API_KEY="
     "[[sk_openai]]\nnode index.js\n```",
     "I accidentally committed this .env. What should I do?\n```\n"
     "AWS_ACCESS_KEY_ID=[[aws_key]]\nAWS_REGION=eu-central-1\n```",
     "The Slack bot doesn't respond:\n```python\nclient = WebClient(token="
     "\"[[slack]]\")\nclient.chat_postMessage(channel=\"#ops\", text=\"hi\")"
     "\n```",
     "Maps API says RefererNotAllowedMapError:\n```js\nconst loader = new "
     "Loader({ apiKey: \"[[gkey]]\", version: \"weekly\" });\n```",
     "GitHub Actions fails to clone the private submodule:\n```yaml\nenv:\n"
     "  GH_TOKEN: [[ghp]]\n```",
     "Getting 'invalid x-api-key':\n```python\nclient = anthropic.Anthropic("
     "api_key=\"[[sk_ant]]\")\n```",
     "Why does this curl return 403?\n```\ncurl -s -H \"Authorization: "
     "[[bearer]]\" https://api.example.com/v2/orders\n```",
     "Decode this JWT for me and tell me when it expires: [[jwt]]",
     "Our OAuth response looks like this, is the token valid?\n```json\n"
     "{\"access_token\": \"[[jwt]]\", \"token_type\": \"Bearer\", "
     "\"expires_in\": 3600}\n```"],
    Opt(0.5, ["Using [[neg_version]].",
              "Request id: [[neg_uuid]]",
              "Broke after deploying [[neg_sha]].",
              "Please explain what I'm doing wrong."]))

scn("en_pem", "en",
    ["Why does ssh say 'invalid format' for this key?",
     "Convert this key to PKCS#8, please:",
     "Is this private key encrypted?",
     "Our deploy fails with 'Load key: error in libcrypto' using this key:",
     "How do I get the public key out of this?"],
    ["```\n[[pem]]\n```", "[[pem]]", "```\n[[pem]]\n```\nCommit "
     "[[neg_sha_short]]."],
    Opt(0.4, ["Version: [[neg_version]].",
              "It used to work until [[neg_date_en]].",
              "The server is [[ipv4]]."]))

scn("en_service_account", "en",
    ["Our GCP service account JSON fails to load:",
     "Is it a problem that this file ended up in the public repo?",
     "Parse this credentials file in Python:"],
    ["```json\n{\n  \"type\": \"service_account\",\n  \"project_id\": "
     "\"billing-prod\",\n  \"private_key_id\": \"[[neg_sha]]\",\n  "
     "\"private_key\": \"[[pem_json]]\\n\"\n}\n```",
     "```json\n{\"type\": \"service_account\", \"private_key\": "
     "\"[[pem_json]]\", \"token_uri\": \"https://oauth2.example.com/token\"}"
     "\n```"])

scn("en_payment", "en",
    ["My card [[card]] was declined in the checkout, but the test card works."
     " What's wrong?",
     "Write a chargeback letter: card [[card]], charge of [[neg_price_en]] "
     "from [[neg_company]] on [[neg_date_en]] that I never authorized.",
     "Our Stripe test with [[card]] returns 'incorrect_cvc'. Code below.",
     "The bank froze my card ending in [[neg_count]] after a purchase in "
     "[[neg_city]]. Full number is [[card]]. How do I write to them?",
     "I want to send [[neg_price_en]] to [[full]], IBAN [[iban]]. What else "
     "do I need?",
     "The bank says IBAN [[iban]] doesn't match the name [[full]]. What now?",
     "Set up a recurring transfer: payee [[full]], IBAN [[iban]], "
     "[[neg_price_en]] monthly."],
    Opt(0.4, ["My phone: [[phone]]", "Billing address: [[addr_en_full]]",
              "My own IBAN is [[iban]]."]),
    sep=" ")

scn("en_tenancy", "en",
    ["Write a notice to end my lease at [[addr_en_full]] effective "
     "[[neg_date_en]].",
     "Draft a repair request: the heating at [[street_en]], apt 3, has been "
     "broken for [[neg_duration_en]].",
     "I'm moving from [[street_en]] to [[addr_en_full]]; write a note to the "
     "property manager.",
     "Write a sublease agreement for a room at [[addr_en_full]], subtenant "
     "[[full:p2]], from [[neg_date_en]], rent [[neg_price_en]]."],
    ["Landlord: [[mr:p1]], [[addr_en_full]].",
     "The landlady is [[full:p1f]], email [[email:p1]].",
     "Property manager: [[neg_company]], contact [[mr:p1]], [[tel]].",
     "Landlord is [[full:p1]] ([[phone]])"],
    Opt(0.5, ["Return the deposit ([[neg_price_en]]) to [[iban]].",
              "My new address from [[neg_date_en]]: [[addr_en_full]]."]),
    ["[[sig_en]]"], sep="\n")

scn("en_doctor", "en",
    ["Write a cancellation for my appointment with [[mr:p1]] on "
     "[[neg_date_en]] at [[neg_time]]. Their office number is [[phone]].",
     "Email [[mr:p1]] asking for my lab results from [[neg_date_en]] to be "
     "mailed to [[addr_en_full]].",
     "My GP is [[mr:p1]]; the practice phone is [[phone]]. Draft a referral "
     "request.",
     "Refill request for [[full:p0]] (DOB [[dob_en:p0]]). Pharmacy email: "
     "[[email]]",
     "Summarize this discharge letter for my mom [[full:p2f]], born "
     "[[dob_en:p2f]]: hypertension, follow-up in [[neg_duration_en]]."],
    Opt(0.5, ["Insurance member ID [[neg_policy]].",
              "Reach me at [[phone]].", "Thanks!"]),
    sep=" ")

scn("en_json_records", "en",
    ["Convert this JSON to CSV:",
     "Validate this payload and list missing fields:",
     "Write a Python script that loads these records into SQLite:",
     "Turn this into YAML:"],
    [D("""
        {"customer": {"name": "[[full:p1]]", "email": "[[email:p1]]",
          "phone": "[[phone]]", "iban": "[[iban]]"},
         "order": "[[neg_order]]", "amount": 129.99}"""),
     D("""
        [
          {"first_name": "[[first:p1]]", "last_name": "[[last:p1]]", "dob": "[[dob_iso:p1]]", "zip": "[[neg_plz]]"},
          {"first_name": "[[first:p2]]", "last_name": "[[last:p2]]", "dob": "[[dob_iso:p2]]", "zip": "[[neg_plz]]"}
        ]"""),
     D("""
        {"id": "[[neg_uuid]]", "contact": {"name": "[[full:p1]]",
         "address": "[[addr_en_full]]", "mobile": "[[phone]]"},
         "created_at": "[[neg_ts]]"}"""),
     D("""
        {"employee": "[[full:p1]]", "ssn": "[[ssn]]",
         "birth_date": "[[dob_iso:p1]]", "start": "[[neg_date_en]]"}"""),
     D("""
        {"user": {"email": "[[email]]", "last_login_ip": "[[ip]]",
          "created_at": "[[neg_ts]]", "plan": "team"}}"""),
     D("""
        {"payment": {"card": "[[card]]", "holder": "[[full]]",
          "amount": "[[neg_price_en]]", "ref": "[[neg_uuid]]"}}""")])

scn("en_sql", "en",
    ["Why does this insert fail?", "Optimize this query, please:",
     "How do I anonymize this test data before sharing it?"],
    ["```sql\nINSERT INTO customers (name, email, phone, iban) VALUES "
     "('[[full]]', '[[email]]', '[[phone]]', '[[iban]]');\n```\nERROR: "
     "duplicate key value violates unique constraint \"customers_email_key\"",
     "```sql\nSELECT * FROM orders o JOIN customers c ON c.id = o.customer_id"
     "\nWHERE c.email = '[[email]]' AND o.created_at > '[[neg_ts]]';\n```",
     "```sql\nUPDATE employees SET address = '[[addr_en_full]]', ssn = "
     "'[[ssn]]' WHERE id = [[neg_count]];\n```",
     "```sql\nINSERT INTO sessions (user_email, ip, started) VALUES "
     "('[[email]]', '[[ip]]', '[[neg_ts]]');\n```"],
    Opt(0.4, ["Database: [[neg_version]].",
              "The table has about [[neg_count]] rows.",
              "DB server: [[ipv4]]."]))

scn("en_git", "en",
    ["How do I change the author of this commit?",
     "What does this git log mean?",
     "How do I squash these?"],
    ["```\ncommit [[neg_sha]]\nAuthor: [[full:p0]] <[[email:p0]]>\nDate:   "
     "Wed Apr 3 09:12:44 2024 +0200\n\n    Fix rounding in invoices\n```",
     "```\n[[neg_sha_short]] Merge pull request #[[neg_count]] from "
     "feature/vat ([[full:p0]])\n[[neg_sha_short]] Bump version to "
     "[[neg_semver]] ([[full:p1]])\n```",
     "```\ngit config --global user.name \"[[full:p0]]\"\ngit config "
     "--global user.email \"[[email:p0]]\"\n```"],
    Opt(0.4, ["git [[neg_semver]].", "Only the last 3 commits."]))

scn("en_intro", "en",
    ["Hi, my name is [[full:p0]] and I need help negotiating my salary with "
     "[[mr:p1]].",
     "I'm [[first:p0]], [[neg_age]] years old, and I want to tell my boss "
     "[[mr:p1]] that I'm quitting. How do I say it?",
     "My coworker [[full:p1]] keeps taking credit for my work. How do I "
     "raise it with our manager [[full:p2]]?",
     "Write a farewell speech for [[full:p1]], who is retiring after "
     "[[neg_count]] projects. Everyone calls him [[first:p1m]].",
     "Summarize the minutes: present [[full]], [[full]], [[full]]. "
     "Decisions: budget [[neg_price_en]], start [[neg_date_en]].",
     "This is [[full:p0]] from accounting. Can you explain accruals in "
     "simple terms?",
     "[[full:p1]] and [[full:p2]] on my team argue in every standup. How do "
     "I moderate?"],
    Opt(0.3, ["Keep it short.", "Meeting is in [[neg_room_en]] at "
              "[[neg_time]]."]),
    sep=" ")

scn("en_reference", "en",
    ["Write a reference letter for [[full:p1]], who worked with us at "
     "[[neg_company]] from [[neg_yr]] to [[neg_yr]].",
     "Draft a recommendation for my former intern [[full:p1]]; she can be "
     "reached at [[email:p1]].",
     "Write a LinkedIn recommendation for [[full:p1]], great backend "
     "engineer."],
    Opt(0.6, ["Mention that [[first:p1]] led the migration to "
              "[[neg_product]].",
              "I'm [[full:p0]], CTO; my phone is [[phone]].",
              "Contact for questions: [[email:p0]]",
              "Put this link at the end: <a href=\"mailto:[[email:p0]]\">"
              "[[full:p0]]</a>"]),
    ["[[sig_en]]"])

scn("en_visa_form", "en",
    ["Help me fill in the visa application:",
     "Check this DS-160 draft for inconsistencies:",
     "Put these details into the form fields:"],
    ["Surname: [[last:p0]]\nGiven names: [[first:p0]]",
     "Full name: [[full:p0]]", "Applicant: [[full:p0]]"],
    ["Date of birth: [[dob_en:p0]]", "DOB: [[dob_en:p0]]",
     "Born: [[dob_en:p0]]"],
    ["Passport number: [[pass]]", "German passport no. [[pass]]",
     "Passport: [[pass]], issued [[neg_date_en]]"],
    Opt(0.7, ["Home address: [[addr_de_full]]", "Address: [[addr_de_full]]"]),
    Opt(0.6, ["Phone: [[phone]]", "Email: [[email:p0]]"]),
    Opt(0.4, ["US contact: [[full:p1]], [[addr_en_full]], [[phone_us]]"]),
    sep="\n")

scn("en_gdpr", "en",
    ["Draft a GDPR data access request to [[neg_company]].",
     "Write a deletion request under Art. 17 GDPR.",
     "I want to know what data an online shop keeps about me."],
    ["My details: [[full:p0]], [[email:p0]], customer since [[neg_yr]], "
     "account [[neg_customer]].",
     "I'm [[full:p0]], living at [[addr_en_full]], email [[email:p0]].",
     "Sender: [[full:p0]], [[addr_de_full]], [[tel]]"],
    ["[[sig_en]]"])

scn("en_ipv6", "en",
    ["My server has the IPv6 address [[ipv6]] but it's not reachable from "
     "outside. What am I missing?",
     "What does this ip addr output mean?\n```\ninet6 [[ipv6]]/64 scope "
     "global dynamic\ninet [[ipv4]]/24 scope global eth0\n```",
     "How do I add [[ipv6]] as an AAAA record?",
     "Ping to [[ipv6]] works, to [[ipv4]] it doesn't. Why?",
     "Our nginx should listen on [[[ipv6]]]:443 and [[ipv4]]:443. Config?"],
    Opt(0.4, ["Router firmware FRITZ!OS [[neg_semver]].",
              "NIC MAC: [[neg_mac]]"]),
    sep=" ")

scn("en_kubectl", "en",
    ["Why is this pod stuck?", "Explain these kubectl events:",
     "Our service can't reach Redis:"],
    ["```\nWarning  Unhealthy  kubelet  Readiness probe failed: Get "
     "\"http://[[ipv4]]:8080/healthz\": dial tcp [[ipv4]]:8080: connect: "
     "connection refused\n```",
     "```\nNAME          READY   STATUS    IP\napi-7d9f      0/1     "
     "CrashLoop [[ipv4]]\nworker-5c2b   1/1     Running   [[ipv4]]\n```",
     "```\nError: dial tcp [[ipv4]]:6379: i/o timeout\n[[log_plain]]\n```"],
    Opt(0.5, ["Cluster [[neg_version]].", "Pod uid [[neg_uuid]].",
              "Since [[neg_ts]]."]))

scn("en_csv", "en",
    ["Deduplicate this CSV:", "Sort this list by last name:",
     "Create mail-merge fields from this:"],
    ["name,email,phone\n[[full:p1]],[[email:p1]],[[phone]]\n[[full:p2]],"
     "[[email:p2]],[[phone]]\n[[full:p1]],[[email:p1]],[[phone]]",
     "last,first,street\n[[last:p1]],[[first:p1]],[[street_en]]\n"
     "[[last:p2]],[[first:p2]],[[street_en]]",
     "customer | card | amount\n[[full]] | [[card]] | [[neg_price_en]]\n"
     "[[full]] | [[card]] | [[neg_price_en]]"],
    sep="\n")

scn("en_chat_translate", "en",
    ["Translate to German:", "Fix the grammar:", "Make this friendlier:"],
    ["Hi [[first:p1]], can you send me the documents by [[neg_date_en]]? My "
     "address is [[addr_en_full]]. Thanks, [[first:p0]]",
     "Hey [[first:p1]], party is at my place on [[street_en]], from "
     "[[neg_time]]. Bring [[first:p2]]! Call me if anything: [[phone]]",
     "[[dear:p1]] please find the signed contract attached. You can reach me "
     "at [[phone]] or [[email:p0]].",
     "Dear [[first:p1]], I sent you the money for the tickets "
     "([[neg_price_en]] to [[iban]]). Best, [[first:p0]]"])

scn("en_secret_generic", "en",
    ["I accidentally pasted my API key in a public channel: [[secret]]. How "
     "do I revoke it?",
     "Is this key still valid? [[secret]]",
     "Our config.toml has:\n```toml\n[api]\nkey = \"[[secret]]\"\ntimeout = "
     "30\n```\nHow do I load it from an environment variable instead?",
     "A colleague emailed me the token [[secret]]. Is that a security "
     "problem?",
     "Error: `invalid_api_key: [[secret]]` – what does it mean?",
     "The pre-commit hook flags line 12: `token = \"[[secret]]\"`. False "
     "positive?",
     "Write a script that checks whether the key [[secret]] still appears "
     "anywhere in /var/log.",
     "Which service issues keys that look like [[secret]]?",
     "Our secret scanner found this in commit [[neg_sha_short]]: [[secret]] "
     "– how do I rewrite history?"],
    Opt(0.4, ["The key has been active since [[neg_date_en]].",
              "We use [[neg_product]].", "Urgent, please!"]),
    sep=" ", weight=2.0)

scn("en_http", "en",
    ["Why does the API return 401 for this request?",
     "Our gateway logged this header dump, anything wrong?",
     "How can I check whether the token here has expired?",
     "The backend receives the request without an Authorization header:"],
    ["```http\nGET /api/v1/me HTTP/1.1\nHost: api.example.com\nAuthorization: "
     "[[bearer]]\nX-Forwarded-For: [[ip]]\nX-Request-ID: [[neg_uuid]]\n```",
     "```\nauthorization: [[bearer]]\nx-real-ip: [[ipv4]]\nuser-agent: "
     "curl/8.5.0\n```",
     "```js\nfetch(\"https://api.example.com/orders\", {\n  headers: { "
     "Authorization: \"[[bearer]]\" }\n});\n```",
     "```\n[[log_plain]]\nincoming request from [[ipv4]]: Authorization: "
     "[[bearer]]\n```"],
    Opt(0.4, ["Server: [[neg_version]].", "Started at [[neg_ts]].",
              "The client runs on [[ipv4]]."]))

scn("en_dob_prose", "en",
    ["Sign-up for the swim club: [[full:p1]], [[gebdob:p1]], address "
     "[[addr_en_full]]. Write a short registration note.",
     "My dad [[full:p2m]] ([[gebdob:p2m]]) needs a care assessment. How do I "
     "apply?",
     "Life insurance application: [[full]], [[gebdob]], teacher, non-smoker. "
     "What else will they ask?",
     "Background check request for [[full:p1]], [[gebdob:p1]], SSN [[ssn]].",
     "Write a power of attorney: I, [[full:p0]], [[gebdob:p0]], authorize "
     "[[full:p1]] to act on my behalf.",
     "My grandma [[first:p2f]] turns 90 on [[neg_date_en]] – she was "
     "born on [[dob_en:p2f]]. Write a poem for the card.",
     "Draft a simple will: [[full:p0]], [[gebdob:p0]], of [[addr_en_full]], "
     "leaves everything to [[full:p1]]."],
    Opt(0.4, ["Start date is [[neg_date_en]].",
              "The company was founded on [[neg_date_en]], if that matters.",
              "Questions to [[email:p0]]."]),
    sep=" ")

# --- English hard negatives -----------------------------------------------

scn("en_neg_tech", "en",
    ["How do I convert a timestamp like [[neg_ts]] to local time in Python? "
     "I'm on [[neg_version]].",
     "Git says detached HEAD at [[neg_sha]]. How do I get back to main?",
     "Docker build fails: sha256:[[neg_sha256]]: not found. Base image "
     "node:[[neg_semver]]-alpine.",
     "After the Windows update to [[neg_winver]] my NIC ([[neg_mac]]) has no "
     "connection.",
     "What does this error mean?\n```\n[[log_plain]]\n[[log_plain]]\n```",
     "How do I set a memory limit of [[neg_qty]] in Kubernetes? Pod id "
     "[[neg_uuid]].",
     "The docs say export OPENAI_API_KEY=[[neg_placeholder]] – where do I get "
     "my own key?",
     "Is this certificate still valid?\n```\n[[neg_cert]]\n```",
     "Process [[neg_pid]] is stuck at [[neg_pct]] CPU at address "
     "[[neg_hex]]. How do I debug it?",
     "Release [[neg_version]] breaks migration [[neg_uuid]] at [[neg_ts]].",
     "Redis on port [[neg_port]] keeps answering LOADING since "
     "[[neg_hms]].",
     "The cron job ran at [[neg_hms]] and again at [[neg_hms]] although it "
     "should run once a day.",
     "Bump the lockfile from [[neg_semver]] to [[neg_semver]] and explain "
     "the changelog."],
    Opt(0.4, ["Thanks!", "Please include an example.",
              "Version: [[neg_version]]."]),
    sep=" ", neg=True, weight=1.3)

scn("en_neg_office", "en",
    ["My order [[neg_order]] for [[neg_price_en]] still hasn't arrived; the "
     "shop said [[neg_date_en]]. How do I complain?",
     "Scale this recipe for 8 people: [[neg_qty]] milk, [[neg_qty]] flour, "
     "3 eggs, [[neg_qty]] sugar.",
     "Write an agenda for the meeting in [[neg_room_en]] at [[neg_time]] "
     "about the [[neg_yr]] budget ([[neg_price_en]]).",
     "Compare the plans of [[neg_company]] and [[neg_company]].",
     "Invoice [[neg_invoice]] of [[neg_date_en]] shows [[neg_price_en]] net; "
     "is the gross with 19 % VAT right?",
     "Write a press release: [[neg_company]] acquires [[neg_company]] for "
     "[[neg_price_en]] million.",
     "Parcel [[neg_tracking]] has been stuck for [[neg_duration_en]]. What "
     "can I do?",
     "My contract [[neg_policy]] runs until [[neg_date_en]] with three "
     "months' notice. When must I cancel?",
     "How many cups is [[neg_qty]]?",
     "Order [[neg_order]], invoice number [[neg_invoice]] – the shop hasn't "
     "answered for [[neg_duration_en]]. Draft a reminder.",
     "How do I connect [[neg_product]] with [[neg_product]]?",
     "[[neg_company]] was founded on [[neg_date_en]]. Write an anniversary "
     "post.",
     "Our hotline has [[neg_phone_short]]; how do I set up call forwarding?",
     "Is the form for ticket [[neg_order]] due on [[neg_date_en]] or "
     "[[neg_date_en]]?"],
    sep=" ", neg=True, weight=1.3)

scn("en_neg_checksum", "en",
    ["Why does my bank reject IBAN [[neg_iban_bad]]? I copied it from an "
     "invoice.",
     "The checkout says 'invalid card number' for [[neg_card_bad]]. Did I "
     "mistype it?",
     "Write a function that validates IBANs and test it with "
     "[[neg_iban_bad]] (should return False).",
     "How does the Luhn check work? Example: [[neg_card_bad]] fails.",
     "Is [[neg_ssn_bad]] a valid SSN format? Our validator rejects it.",
     "The form rejects SSN [[neg_ssn_bad]] – why?",
     "The German tax ID [[neg_taxid_bad]] fails validation. Which digit is "
     "the check digit?",
     "Our VAT check says [[neg_vat_bad]] is invalid. Is the checksum off?"],
    Opt(0.3, ["Thanks.", "Step by step please."]),
    sep=" ", neg=True, weight=0.8)


# ---------------------------------------------------------------------------
# Rendering documents, checks, corpus assembly
# ---------------------------------------------------------------------------

def render_scn(g, s):
    d = Doc(g, s.lang)
    chunks = []
    for b in s.blocks:
        alts = b
        if isinstance(b, Opt):
            if g.rng.random() >= b.p:
                continue
            alts = b.alts
        parts = render(d, g.pick(alts))
        if "".join(t for t, _ in parts).strip():
            chunks.append(parts)
    parts = []
    for i, c in enumerate(chunks):
        if i:
            parts.append((s.sep, None))
        parts += c
    text, spans = "", []
    for t, label in parts:
        if label:
            assert t and t == t.strip(), (s.name, t)
            spans.append((len(text), len(text) + len(t), label))
        text += t
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    spans = [(a - lead, b - lead, t) for a, b, t in spans]
    return {"scenario": s.name, "lang": s.lang, "text": text,
            "spans": spans, "negatives": d.negatives}


EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
IPV4_RE = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d)")
IPV6_RE = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}"
                     r"(?![\w:])")
CARD_RE = re.compile(r"(?<![\w-])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}|"
                     r"\d{4}([ -]?)\d{6}\2\d{5}|\d{13,19})(?![\w-])")
TAXID_RE = re.compile(r"(?<![\w-])(?:\d{11}|\d{2} \d{3} \d{3} \d{3})"
                      r"(?![\w-])")
RV_RE = re.compile(r"(?<!\w)(?:\d{8}[A-Z]\d{3}|\d\d \d{6} [A-Z] \d{3})(?!\w)")
KVNR_RE = re.compile(r"(?<!\w)[A-Z]\d{9}(?!\w)")
VAT_RE = re.compile(r"(?<!\w)DE\d{9}(?!\w)")
SSN_RE = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
IBAN_START_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}")
SECRET_RE = re.compile(r"sk-(?:proj-|ant-)?[\w-]{20,}|AKIA[A-Z0-9]{16}|"
                       r"ghp_[A-Za-z0-9]{36}|xox[bp]-[\w-]{10,}|"
                       r"AIza[\w-]{35}|eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+|"
                       r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def leaks(text, spans):
    """Mechanically recognisable values outside a gold span of their type:
    a document with any is discarded (the gold set must be complete)."""
    def covered(a, b, types):
        return any(s <= a and b <= e and t in types for s, e, t in spans)

    out = []

    def check(regex, types, valid=lambda s: True):
        for m in regex.finditer(text):
            if valid(m.group(0)) and not covered(m.start(), m.end(), types):
                out.append((types[0], m.group(0)))

    def ip4(s):
        try:
            ipaddress.IPv4Address(s)
            return True
        except ValueError:
            return False

    def ip6(s):
        try:
            ipaddress.IPv6Address(s)
            return True
        except ValueError:
            return False

    check(EMAIL_RE, ["EMAIL"])
    check(IPV4_RE, ["IP_ADDRESS"], ip4)
    check(IPV6_RE, ["IP_ADDRESS"], ip6)
    check(CARD_RE, ["CREDIT_CARD"], card_valid)
    check(TAXID_RE, ["DE_TAX_ID"], taxid_valid)
    check(RV_RE, ["DE_SOCIAL_SECURITY"], rvnr_valid)
    check(KVNR_RE, ["DE_HEALTH_INSURANCE"], kvnr_valid)
    check(VAT_RE, ["DE_VAT_ID"], vat_valid)
    check(SSN_RE, ["US_SSN"], ssn_valid)
    check(SECRET_RE, ["SECRET"])
    for m in IBAN_START_RE.finditer(text):
        want = IBAN_LEN.get(m.group(0)[:2])
        if not want:
            continue
        i, raw, n = m.start(), "", 0
        while i < len(text) and n < want:
            c = text[i]
            if c.isupper() or c.isdigit():
                raw += c
                n += 1
            elif c == " " and raw and not raw.endswith(" "):
                raw += c
            else:
                break
            i += 1
        raw = raw.rstrip()
        if n == want and iban_valid(raw) and \
                not covered(m.start(), m.start() + len(raw), ["IBAN"]):
            out.append(("IBAN", raw))
    return out


PERSON_RE = re.compile(r"[^\W\d_]+(?:(?: |-|')[^\W\d_]+)*")
PLATE_RE = re.compile(r"[A-ZÄÖÜ]{1,3}[- ][A-Z]{1,2} [1-9]\d{0,3}[EH]?")
PHONE_RE = re.compile(r"[+(0-9][0-9 ()/+-]*[0-9]")
SECRET_FULL_RE = re.compile(
    r"sk-proj-[\w-]{40,}|sk-[A-Za-z0-9]{40,}|sk-ant-api03-[\w-]{80,}|"
    r"AKIA[A-Z2-7]{16}|ghp_[A-Za-z0-9]{36}|xoxb-\d+-\d+-[A-Za-z0-9]+|"
    r"AIza[\w-]{35}|eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+|"
    r"-----BEGIN ([A-Z ]*PRIVATE KEY)-----(?:\\n|\n)[A-Za-z0-9+/=\n\\]+"
    r"-----END \1-----", re.S)

VALUE_OK = {
    "EMAIL": lambda s: bool(EMAIL_RE.fullmatch(s)),
    "PHONE": lambda s: bool(PHONE_RE.fullmatch(s))
    and 7 <= sum(c.isdigit() for c in s) <= 15,
    "IBAN": iban_valid,
    "CREDIT_CARD": card_valid,
    "IP_ADDRESS": lambda s: bool(ipaddress.ip_address(s)),
    "DE_TAX_ID": taxid_valid,
    "DE_SOCIAL_SECURITY": rvnr_valid,
    "DE_HEALTH_INSURANCE": kvnr_valid,
    "DE_ID_CARD": lambda s: docnr_valid(s, ID_FIRST),
    "DE_PASSPORT": lambda s: docnr_valid(s, PASS_FIRST),
    "DE_VAT_ID": vat_valid,
    "DE_LICENSE_PLATE": lambda s: bool(PLATE_RE.fullmatch(s)),
    "STREET_ADDRESS": lambda s: bool(re.search(r"\d", s)),
    "PERSON": lambda s: bool(PERSON_RE.fullmatch(s)),
    "DATE_OF_BIRTH": lambda s: bool(re.search(r"(19[4-9]\d|200\d)", s)),
    "US_SSN": ssn_valid,
    "SECRET": lambda s: bool(SECRET_FULL_RE.fullmatch(s)),
}


CONTEXT = {  # entity: (chars either side, required context words)
    "DE_LICENSE_PLATE": (30, r"Kennzeichen|license plate|number plate"),
    "DE_ID_CARD": (40, r"Personalausweis|Ausweisnummer|ID card"),
    "DE_PASSPORT": (40, r"Reisepass|Passnummer|[Pp]assport"),
}


def check_record(rec):
    """Self-check of one output line; raises AssertionError."""
    assert re.fullmatch(r"(de|en)-\d{4}", rec["id"]), rec["id"]
    assert rec["lang"] == rec["id"][:2]
    b = rec["text"].encode("utf-8")
    prev_end = 0
    for e in rec["entities"]:
        s, t, kind = e["start"], e["end"], e["entity"]
        where = f"{rec['id']} {kind} {s}-{t}"
        assert kind in TYPES, where
        assert 0 <= s < t <= len(b), f"{where}: out of bounds"
        assert s >= prev_end, f"{where}: overlaps or unsorted"
        prev_end = t
        for off in (s, t):
            assert off == len(b) or (b[off] & 0xC0) != 0x80, \
                f"{where}: not a UTF-8 boundary"
        val = b[s:t].decode("utf-8")
        assert val == val.strip(), f"{where}: whitespace at the edge"
        assert VALUE_OK[kind](val), f"{where}: invalid value {val!r}"
        if kind in CONTEXT:
            width, words = CONTEXT[kind]
            near = b[:s].decode("utf-8")[-width:] + " " + \
                b[t:].decode("utf-8")[:width]
            assert re.search(words, near), f"{where}: no context: {near!r}"


def to_record(doc, ident):
    text = doc["text"]
    ents = []
    for a, b, t in sorted(doc["spans"]):
        s = len(text[:a].encode("utf-8"))
        ents.append({"start": s, "end": s + len(text[a:b].encode("utf-8")),
                     "entity": t})
    return {"id": ident, "lang": doc["lang"], "text": text,
            "entities": ents}


def presence_table(split, seed, trials=40):
    """How often each scenario yields each type (for topping up)."""
    g = Gen(split, seed)
    table = {}
    for s in SCENARIOS:
        c = Counter()
        for _ in range(trials):
            c.update(set(t for _, _, t in render_scn(g, s)["spans"]))
        table[s.name] = {t: c[t] / trials for t in TYPES}
    return table


TEST_MINS = {"PERSON": 330, "EMAIL": 200, "PHONE": 200,
             "STREET_ADDRESS": 170, "IBAN": 140, "IP_ADDRESS": 150,
             "DATE_OF_BIRTH": 120, "SECRET": 160, "CREDIT_CARD": 90,
             "DE_TAX_ID": 90}
SPLITS = {
    "test": dict(file="corpus.jsonl", seed=41923, total=2200,
                 mins={t: TEST_MINS.get(t, 75) for t in TYPES}),
    "dev": dict(file="corpus_dev.jsonl", seed=7031, total=800,
                mins={t: max(20, TEST_MINS.get(t, 75) // 4) for t in TYPES}),
}
NEG_ONLY_SHARE = 0.18
DE_SHARE = 0.55


def build(split):
    cfg = SPLITS[split]
    g = Gen(split, cfg["seed"])
    presence = presence_table(split, cfg["seed"] + 1)
    docs, counts, n_neg, discarded = [], Counter(), 0, 0
    while True:
        deficient = [t for t in TYPES if counts[t] < cfg["mins"][t]]
        if not deficient and sum(counts.values()) >= cfg["total"]:
            break
        lang = "de" if g.rng.random() < DE_SHARE else "en"
        if n_neg < NEG_ONLY_SHARE * (len(docs) + 1):
            cands = [s for s in SCENARIOS if s.neg and s.lang == lang]
            weights = [s.weight for s in cands]
        else:
            t = g.rng.choice(deficient) if deficient else None

            def fit(s, lang):
                return not s.neg and s.lang == lang and \
                    (t is None or presence[s.name][t] > 0)
            cands = [s for s in SCENARIOS if fit(s, lang)] or \
                [s for s in SCENARIOS if fit(s, "en" if lang == "de"
                                             else "de")]
            weights = [s.weight * (presence[s.name][t] if t else 1)
                       for s in cands]
        doc = render_scn(g, g.rng.choices(cands, weights)[0])
        if leaks(doc["text"], doc["spans"]):
            discarded += 1
            assert discarded < 200, leaks(doc["text"], doc["spans"])
            continue
        docs.append(doc)
        counts.update(t for _, _, t in doc["spans"])
        n_neg += not doc["spans"]
    seq = Counter()
    records = []
    for doc in docs:
        seq[doc["lang"]] += 1
        rec = to_record(doc, "%s-%04d" % (doc["lang"], seq[doc["lang"]]))
        check_record(rec)
        records.append(rec)
    stats = {"documents": len(docs), "entities": sum(counts.values()),
             "negative_only": n_neg,
             "mixed": sum(1 for d in docs if d["negatives"] and d["spans"]),
             "discarded": discarded, "counts": counts}
    return records, stats


def dumps(records):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if the checked-in files differ")
    ap.add_argument("--out", default=str(HERE),
                    help="directory to write to (default: next to script)")
    args = ap.parse_args()
    built = {}
    for split in ("dev", "test"):
        built[split] = build(split)
    dev_texts = set(r["text"] for r in built["dev"][0])
    same = [r["id"] for r in built["test"][0] if r["text"] in dev_texts]
    assert not same, f"test documents copied from dev: {same[:5]}"
    rc = 0
    for split in ("dev", "test"):
        records, st = built[split]
        path = Path(args.out) / SPLITS[split]["file"]
        data = dumps(records)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != data:
                print(f"{path}: differs from the generator's output")
                rc = 1
            continue
        path.write_text(data, encoding="utf-8")
        c = st["counts"]
        print(f"{path}: {st['documents']} documents, {st['entities']} "
              f"entities; {st['negative_only']} documents without entities, "
              f"{st['mixed']} with hard negatives next to entities")
        print("  " + ", ".join(f"{t} {c[t]}" for t in TYPES))
    return rc


if __name__ == "__main__":
    sys.exit(main())
