"""A seeded generator of realistic PubMed-format exports, for benchmarks and tests.

``generate(n, seed)`` returns the text of an export with ``n`` records laid out like PubMed's
"Send to -> Citation manager" files: fixed tag order, values wrapped at about 80 characters
with 6-space continuation lines (most records leave a trailing space at the wrap point, as
2020+ exports do), author groups (FAU, AU, AUID, AD), MeSH headings with qualifiers and
``*``, OT keywords, LID/AID DOIs, some records without a DOI, some Bookshelf chapters and
books, and a few non-ASCII names. Records average about 2.9 KB, like real exports.

The data is invented; only its shape follows PubMed.

    python bench/generate.py 10000 --seed 1 -o /tmp/pubmed-10000.nbib
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

_WORDS = (
    "patients cohort outcome treatment clinical study trial randomized controlled analysis "
    "association risk factors mortality incidence prevalence disease chronic acute therapy "
    "response expression protein gene cells tumor cancer signaling pathway receptor inhibitor "
    "mechanism model mice vivo vitro significant increased decreased reduced compared with "
    "between among during after before years months weeks baseline follow-up primary "
    "secondary endpoint hazard ratio confidence interval logistic regression multivariate "
    "adjusted observed identified evaluated assessed measured levels serum plasma blood "
    "inflammation immune response infection viral bacterial resistance antibiotic dose "
    "exposure women men children adults elderly population national registry hospital "
    "emergency surgery postoperative complications quality of life depression anxiety "
    "cognitive function brain imaging magnetic resonance cardiac heart failure stroke "
    "diabetes obesity metabolic insulin glucose kidney liver lung pulmonary vascular "
    "the the the the of of of of and and and in in in to to a a for with was were is "
    "that this these results suggest indicate may might could further novel potential"
)
WORDS = _WORDS.split()
LABELS = ("BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS")
_SURNAMES = (
    "Smith Johnson Kim Lee Park Wang Li Zhang Chen Liu Garcia Martinez Rossi Müller Schmidt "
    "Nguyen Tanaka Suzuki Singh Patel Kumar Cohen Levy Dubois Moreau Silva Santos Costa "
    "Andersson Johansson Nielsen Hansen Novak Kowalski Ivanova Petrov Yilmaz Öztürk Brown "
    "Taylor Wilson Davies Evans Thomas Roberts Walker Wright Thompson White Hughes Edwards "
    "Green Hall Wood Harris Clarke Jackson Turner Hill Moore Cooper Ward Morris King Watson"
)
SURNAMES = _SURNAMES.split()
_GIVEN = (
    "John Mary James Patricia Robert Jennifer Michael Linda David Elizabeth William Susan "
    "Jeongseop Tae-Eun Seung-Hwan Ja Wook Wei Xiaoming Hiroshi Yuki Priya Rahul Ana José "
    "François Zoë Søren Łukasz Ahmet Ayşe Olga Dmitri Maria Giulia Luca Sven Ingrid Pierre"
)
GIVEN = _GIVEN.split()
PLACES = (
    "Boston, MA, USA",
    "Seoul, Republic of Korea",
    "Beijing, China",
    "London, UK",
    "Paris, France",
    "München, Germany",
    "Tokyo, Japan",
    "São Paulo, Brazil",
    "Toronto, ON, Canada",
    "Melbourne, VIC, Australia",
    "Stockholm, Sweden",
    "Kraków, Poland",
)
DEPTS = (
    "Department of Medicine",
    "Department of Epidemiology",
    "Division of Cardiology",
    "Institute of Neuroscience",
    "Department of Psychiatry",
    "Laboratory of Molecular Biology",
    "School of Public Health",
    "Department of Surgery",
)
INSTITUTIONS = (
    "University Hospital",
    "National University",
    "Medical Research Institute",
    "College of Medicine",
    "Cancer Center",
    "Children's Hospital",
)
JOURNALS = (
    ("Public Health", "Public health", "0033-3506", "1476-5616", "0376507", "Netherlands"),
    (
        "Proc Natl Acad Sci U S A",
        "Proceedings of the National Academy of Sciences of the United States of America",
        "0027-8424",
        "1091-6490",
        "7505876",
        "United States",
    ),
    (
        "Clin Psychopharmacol Neurosci",
        "Clinical psychopharmacology and neuroscience : the "
        "official scientific journal of the Korean College of Neuropsychopharmacology",
        "1738-1088",
        "2093-4327",
        "101207332",
        "Korea (South)",
    ),
    ("PLoS One", "PloS one", "1932-6203", "1932-6203", "101285081", "United States"),
    ("BMJ Open", "BMJ open", "2044-6055", "2044-6055", "101552874", "England"),
    (
        "J Clin Med",
        "Journal of clinical medicine",
        "2077-0383",
        "2077-0383",
        "101606588",
        "Switzerland",
    ),
    ("Nat Commun", "Nature communications", "2041-1723", "2041-1723", "101528555", "England"),
)
MESH = (
    "Humans",
    "Female",
    "Male",
    "Adult",
    "Aged",
    "Middle Aged",
    "Animals",
    "Mice",
    "Depressive Disorder, Treatment-Resistant",
    "Ketamine",
    "Glutamic Acid",
    "Diabetes Mellitus, Type 2",
    "Heart Failure",
    "Neoplasms",
    "Brain",
    "Cohort Studies",
    "Risk Factors",
    "Retrospective Studies",
    "Treatment Outcome",
    "Receptors, N-Methyl-D-Aspartate",
)
QUALIFIERS = (
    "drug therapy",
    "metabolism",
    "pathology",
    "epidemiology",
    "therapeutic use",
    "adverse effects",
    "genetics",
    "physiopathology",
    "diagnosis",
    "methods",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _wrap(tag: str, value: str, trailing_space: bool) -> list[str]:
    """``value`` laid out as PubMed does: ``TAG - `` then lines of about 80 characters."""
    head = f"{tag:<4}- "
    words = value.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > 80:
            lines.append(current + (" " if trailing_space else ""))
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return [head + lines[0]] + ["      " + line for line in lines[1:]]


def _sentence(rng: random.Random, low: int = 8, high: int = 20) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return (" ".join(words)).capitalize() + "."


def _abstract(rng: random.Random) -> str:
    parts = []
    structured = rng.random() < 0.5
    for label in LABELS if structured else ("",) * rng.randint(3, 5):
        text = " ".join(_sentence(rng) for _ in range(rng.randint(1, 3)))
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def _person(rng: random.Random) -> tuple[str, str]:
    last = rng.choice(SURNAMES)
    given = rng.choice(GIVEN)
    if rng.random() < 0.3:
        given += " " + rng.choice("ABCDEFGHJKLMNPRST")
    initials = "".join(p[0] for p in given.replace("-", " ").split())
    return f"{last}, {given}", f"{last} {initials}"


def _affiliation(rng: random.Random) -> str:
    return f"{rng.choice(DEPTS)}, {rng.choice(INSTITUTIONS)}, {rng.choice(PLACES)}."


def _record(rng: random.Random, pmid: int) -> list[str]:
    kind = rng.random()
    if kind < 0.02:
        return _book(rng, pmid, chapter=False)
    if kind < 0.05:
        return _book(rng, pmid, chapter=True)
    ts = rng.random() < 0.7  # modern exports keep a trailing space at each wrap point
    year = rng.randint(1995, 2025)
    ta, jt, issn_print, issn_electronic, jid, country = rng.choice(JOURNALS)
    has_doi = rng.random() < 0.88
    doi = f"10.{rng.randint(1000, 9999)}/{rng.choice(['j', 's', 'ab'])}.{year}.{pmid % 100000}"
    out: list[tuple[str, str]] = [
        ("PMID", str(pmid)),
        ("OWN", "NLM"),
        ("STAT", rng.choice(["MEDLINE", "PubMed-not-MEDLINE", "In-Process"])),
        ("DCOM", f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"),
        ("LR", f"{min(year + 2, 2026)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"),
        ("IS", f"{issn_electronic} (Electronic)"),
        ("IS", f"{issn_print} (Linking)"),
        ("VI", str(rng.randint(1, 400))),
        ("IP", str(rng.randint(1, 24))),
        ("DP", f"{year} {rng.choice(MONTHS)}" + (f" {rng.randint(1, 28)}" if ts else "")),
        ("TI", _sentence(rng, 8, 22)),
    ]
    first_page = rng.randint(1, 9000)
    if rng.random() < 0.8:
        out.append(("PG", f"{first_page}-{str(first_page + rng.randint(3, 20))[-2:]}"))
    if has_doi:
        out.append(("LID", f"{doi} [doi]"))
    pii = f"S{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}(22)00{pmid % 1000:03d}-{pmid % 10}"
    out.append(("LID", f"{pii} [pii]"))
    out.append(("AB", _abstract(rng)))
    if rng.random() < 0.6:
        out.append(("CI", f"Copyright © {year} Elsevier Ltd. All rights reserved."))
    for _ in range(max(1, int(rng.expovariate(1 / 5)))):
        fau, au = _person(rng)
        out += [("FAU", fau), ("AU", au)]
        if rng.random() < 0.4:
            digits = (
                f"{rng.randint(0, 9999):04d}-{rng.randint(0, 9999):04d}-{rng.randint(0, 9999):04d}"
            )
            out.append(("AUID", f"ORCID: 0000-{digits}"))
        for _ in range(rng.choice([1, 1, 1, 2])):
            out.append(("AD", _affiliation(rng)))
    if rng.random() < 0.05:
        out.append(("CN", f"{rng.choice(MESH)} Study Group"))
    out.append(("LA", "eng"))
    if rng.random() < 0.2:
        out.append(("GR", f"R01 CA{rng.randint(100000, 999999)}/CA/NCI NIH HHS/United States"))
    out.append(("PT", "Journal Article"))
    if rng.random() < 0.3:
        out.append(("PT", rng.choice(["Review", "Randomized Controlled Trial", "Case Reports"])))
    out += [
        ("DEP", f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"),
        ("PL", country),
        ("TA", ta),
        ("JT", jt),
        ("JID", jid),
    ]
    if rng.random() < 0.3:
        out.append(
            (
                "RN",
                f"{rng.randint(0, 9)}{rng.choice('ABCDEFGH')}{rng.randint(100, 999)}XYZ (Ketamine)",
            )
        )
    out.append(("SB", "IM"))
    for heading in rng.sample(MESH, rng.randint(4, 12)):
        if rng.random() < 0.4:
            quals = rng.sample(QUALIFIERS, rng.randint(1, 3))
            heading += "".join(("/*" if rng.random() < 0.3 else "/") + q for q in quals)
        elif rng.random() < 0.2:
            heading = "*" + heading
        out.append(("MH", heading))
    if rng.random() < 0.4:
        out.append(("PMC", f"PMC{rng.randint(1000000, 11000000)}"))
    if rng.random() < 0.6:
        out.append(("OTO", "NOTNLM"))
        for _ in range(rng.randint(2, 6)):
            out.append(("OT", " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))))
    if rng.random() < 0.3:
        out.append(("COIS", "The authors declare no competing interests."))
    stamp = f"{year}/{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}"
    out += [("EDAT", f"{stamp} 06:00"), ("MHDA", f"{stamp} 06:01"), ("CRDT", f"{stamp} 05:12")]
    for status in ("received", "revised", "accepted", "medline", "pubmed", "entrez"):
        out.append(("PHST", f"{stamp} 00:00 [{status}]"))
    if has_doi:
        out.append(("AID", f"{doi} [doi]"))
    out.append(("AID", f"S0033-3506({year % 100:02d})00{pmid % 1000:03d}-2 [pii]"))
    out.append(("PST", "ppublish"))
    source = f"{ta}. {year};{rng.randint(1, 400)}:{first_page}."
    out.append(("SO", source + (f" doi: {doi}." if has_doi else "")))
    lines: list[str] = []
    for tag, value in out:
        lines += _wrap(tag, value, ts)
    return lines


def _book(rng: random.Random, pmid: int, chapter: bool) -> list[str]:
    year = rng.randint(1993, 2024)
    out: list[tuple[str, str]] = [
        ("PMID", str(pmid)),
        ("STAT", "Publisher"),
        ("DRDT", f"{year}0404"),
        ("CTDT", f"{year}0630"),
        ("PB", f"{rng.choice(INSTITUTIONS)}, {rng.choice(PLACES)}"),
        ("DP", str(year)),
    ]
    if chapter:
        out.append(("TI", _sentence(rng, 2, 6)))
    out.append(("BTI", "GeneReviews(®)" if chapter else _sentence(rng, 3, 8)))
    if not chapter:
        out += [
            ("EN", "2nd"),
            (
                "ISBN",
                f"978-1-{rng.randint(10000, 99999)}-{rng.randint(100, 999)}-{rng.randint(0, 9)}",
            ),
        ]
    out.append(("AB", _abstract(rng)))
    out.append(("CI", f"Copyright © 1993-{year}, University of Washington, Seattle."))
    for _ in range(rng.randint(1, 3)):
        fed, ed = _person(rng)
        out += [("FED", fed), ("ED", ed)]
    for _ in range(rng.randint(1, 4)):
        fau, au = _person(rng)
        out += [("FAU", fau), ("AU", au), ("AD", _affiliation(rng))]
    out += [("LA", "eng"), ("PT", "Review"), ("PT", "Book Chapter" if chapter else "Book")]
    out += [
        ("PL", "Seattle (WA)"),
        ("EDAT", f"{year}/04/04 00:00"),
        ("CRDT", f"{year}/04/04 00:00"),
    ]
    out.append(("AID", f"NBK{rng.randint(1000, 99999)} [bookaccession]"))
    lines: list[str] = []
    for tag, value in out:
        lines += _wrap(tag, value, True)
    return lines


def generate(n: int, seed: int = 0) -> str:
    """The text of an ``n``-record export; the same ``(n, seed)`` always gives the same text."""
    rng = random.Random(seed)
    parts = [""]
    for i in range(n):
        parts.append("\n".join(_record(rng, 30000000 + i * 7 + rng.randint(0, 6))))
        parts.append("")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args()
    text = generate(args.n, args.seed)
    if args.output:
        args.output.write_text(text, encoding="utf-8", newline="\n")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
