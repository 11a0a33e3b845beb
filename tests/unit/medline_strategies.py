"""Hypothesis strategies for MEDLINE records, shared by the reader's tests."""

from __future__ import annotations

import datetime as _dt
import itertools
import re

from hypothesis import strategies as st

from syncd.core.medline import KNOWN_TAGS

# Words for free text: ordinary words, punctuation, dashes, and words that are MEDLINE tags
# (but a tag word is never followed by " - ", which would be a real field start).
WORDS = st.sampled_from(
    [
        "the",
        "of",
        "and",
        "patients",
        "with",
        "AD",
        "CI",
        "PT",
        "TI",
        "AB",
        "antagonist",
        "(NMDAR)",
        "-",
        "U.S.",
        "Food",
        ":",
        "95%",
        "Korea",
        "(KBRI),",
        "Daegu,",
        "é",
        "ü",
        "©",
        "Müller",
        "treatment-resistant",
        "e.g.",
        "1.2",
        "[doi]",
        "x-y",
    ]
)


def free_text(min_words: int = 1, max_words: int = 30) -> st.SearchStrategy[str]:
    def ok(words: list[str]) -> bool:
        # "AD - x" would be a field start in a flattened record; keep free text free of it.
        return not any(a in KNOWN_TAGS and b == "-" for a, b in itertools.pairwise(words))

    return st.lists(WORDS, min_size=min_words, max_size=max_words).filter(ok).map(" ".join)


_dates = st.dates(min_value=_dt.date(1900, 1, 1), max_value=_dt.date(2099, 12, 31))
digits = st.integers(min_value=1, max_value=99_999_999).map(str)
date8 = _dates.map(lambda d: d.strftime("%Y%m%d"))
date_slash = _dates.map(lambda d: d.strftime("%Y/%m/%d"))
stamp = _dates.map(lambda d: d.strftime("%Y/%m/%d 00:00"))
issn = st.tuples(st.integers(1000, 9999), st.integers(100, 999), st.sampled_from("0123456789X"))
person = st.tuples(st.sampled_from(["Kim", "Lee", "van Raaij", "Müller"]), free_text(1, 2))

SHAPED = {
    "PMID": digits,
    "OWN": st.sampled_from(["NLM", "NASA"]),
    "STAT": st.sampled_from(["MEDLINE", "PubMed-not-MEDLINE", "In-Process"]),
    "DCOM": date8,
    "LR": date8,
    "IS": st.tuples(issn, st.sampled_from(["Print", "Electronic", "Linking"])).map(
        lambda t: f"{t[0][0]}-{t[0][1]}{t[0][2]} ({t[1]})"
    ),
    "VI": st.integers(1, 500).map(str),
    "IP": st.integers(1, 24).map(str),
    "DP": _dates.map(lambda d: d.strftime("%Y %b %d")),
    "PG": st.sampled_from(["429-446", "e1002", "S12-4"]),
    "LID": st.integers(1000, 9999).map(lambda n: f"10.{n}/abc.{n} [doi]"),
    "FAU": person.map(lambda p: f"{p[0]}, {p[1]}"),
    "AU": person.map(lambda p: f"{p[0]} {p[1][:1].upper() or 'X'}"),
    "AUID": st.integers(1000, 9999).map(lambda n: f"ORCID: 0000-0001-{n}-1234"),
    "AD": free_text(1, 8).map(lambda t: f"Department of {t}, University, Korea."),
    "LA": st.sampled_from(["eng", "kor", "ger"]),
    "PT": st.sampled_from(["Journal Article", "Review", "Case Reports"]),
    "PL": st.sampled_from(["Korea (South)", "United States", "England"]),
    "TA": st.sampled_from(["Clin Psychopharmacol Neurosci", "Public Health"]),
    "JID": st.integers(10000, 999999999).map(str),
    "MH": st.sampled_from(
        [
            "Humans",
            "*Ketamine/therapeutic use",
            "Brain/*metabolism",
            "*tau Proteins/metabolism",
            "beta-Alanine",
        ]
    ),
    "TT": free_text(1, 10).map(lambda t: f"Effet de {t}."),
    "BTI": free_text(1, 5).map(lambda t: f"GeneReviews {t}"),
    "CTI": free_text(1, 5).map(lambda t: f"Chapter {t}"),
    "PB": st.sampled_from(["University of Washington, Seattle", "Springer"]),
    "CP": st.sampled_from(["Seattle (WA)", "Berlin"]),
    "EN": st.sampled_from(["2nd", "3rd ed."]),
    "ISBN": st.sampled_from(["978-0-12-345678-9", "0-306-40615-2"]),
    "FED": person.map(lambda p: f"{p[0]}, {p[1]}"),
    "ED": person.map(lambda p: f"{p[0]} {p[1][:1].upper() or 'X'}"),
    "PMC": st.integers(1, 9999999).map(lambda n: f"PMC{n}"),
    "OTO": st.just("NOTNLM"),
    "EDAT": stamp,
    "CRDT": stamp,
    "PHST": stamp.map(lambda s: f"{s} [received]"),
    "AID": st.integers(1000, 9999).map(lambda n: f"10.{n}/abc.{n} [doi]"),
    "PST": st.sampled_from(["ppublish", "epublish"]),
    "JT": free_text(1, 8).map(lambda t: f"Journal of {t}"),
    "SO": free_text(1, 4).map(lambda t: f"Clin Neurosci. 2023 Aug 31;21(3):429-446. {t}"),
}


def value_for(tag: str) -> st.SearchStrategy[str]:
    return SHAPED.get(tag, free_text())


@st.composite
def pubmed_record(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A record's fields in PubMed's order, with plausible values."""
    tags: list[str] = ["PMID", "OWN", "STAT"]
    tags += [t for t in ("DCOM", "LR") if draw(st.booleans())]
    tags += ["IS"] * draw(st.integers(0, 3))
    tags += [t for t in ("VI", "IP") if draw(st.booleans())]
    tags += ["DP", "TI"]
    tags += [t for t in ("PG", "LID") if draw(st.booleans())]
    tags += ["AB"] if draw(st.booleans()) else []
    tags += ["CI"] if "AB" in tags and draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 4))):
        tags += ["FAU", "AU"] + ["AUID"] * draw(st.integers(0, 1))
        tags += ["AD"] * draw(st.integers(0, 2))
    tags += ["LA"] + ["PT"] * draw(st.integers(1, 2))
    tags += [t for t in ("PL", "TA", "JT", "JID") if draw(st.booleans())]
    tags += ["MH"] * draw(st.integers(0, 4))
    tags += ["PMC"] if draw(st.booleans()) else []
    if draw(st.booleans()):
        tags += ["OTO"] + ["OT"] * draw(st.integers(1, 4))
    tags += [t for t in ("EDAT", "CRDT") if draw(st.booleans())]
    tags += ["PHST"] * draw(st.integers(0, 2))
    tags += ["AID"] * draw(st.integers(0, 2))
    tags += [t for t in ("PST", "SO") if draw(st.booleans())]
    return [(t, draw(value_for(t))) for t in tags]


@st.composite
def book_record(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A NCBI Bookshelf book or chapter record, fields in PubMed's order."""
    tags: list[str] = ["PMID", "STAT"]
    tags += ["PB", "DP"]
    tags += ["TI"] if draw(st.booleans()) else []
    tags += ["BTI"]
    tags += [t for t in ("CTI", "EN", "ISBN", "CP", "LID") if draw(st.booleans())]
    tags += ["AB"] if draw(st.booleans()) else []
    tags += ["CI"] if "AB" in tags and draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 3))):
        tags += ["FED", "ED"]
    for _ in range(draw(st.integers(0, 3))):
        tags += ["FAU", "AU"] + ["AD"] * draw(st.integers(0, 1))
    tags += ["LA", "PT"]
    tags += ["TT"] if draw(st.booleans()) else []
    tags += ["PL"]
    tags += ["MH"] * draw(st.integers(0, 3))
    tags += [t for t in ("EDAT", "CRDT", "AID") if draw(st.booleans())]
    return [(t, draw(value_for(t))) for t in tags]


def layout(fields: list[tuple[str, str]], width: int = 40, trailing: bool = False) -> str:
    """``fields`` as PubMed lays them out: tag padded to 4, values wrapped with 6 spaces."""
    out = []
    for tag, value in fields:
        words = value.split(" ")
        lines: list[str] = []
        current = ""
        for word in words:
            if current and len(current) + 1 + len(word) > width:
                lines.append(current + (" " if trailing else ""))
                current = word
            else:
                current = f"{current} {word}" if current else word
        lines.append(current)
        out.append(f"{tag:<4}- {lines[0]}")
        out += ["      " + line for line in lines[1:]]
    return "\n".join(out) + "\n"


def flatten(text: str, collapse: bool = True) -> str:
    """What copying through a web page does: every run of whitespace becomes one space (or,
    with ``collapse`` false, only the line breaks and the indentation after them go)."""
    if collapse:
        return re.sub(r"\s+", " ", text).strip()
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
