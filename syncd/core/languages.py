"""MEDLINE language codes (ISO 639-2, bibliographic form) to ISO 639-1 codes for Zotero.

MEDLINE writes the language of an article as a three-letter code (``LA - eng``); Zotero and
the citation styles it drives (citeproc) expect a BCP 47 tag such as ``en``: a style decides,
for example, whether to title-case a title by checking that the language starts with ``en``.

The table covers the languages that occur in MEDLINE (NLM's list of language codes, in the
bibliographic form NLM uses: ``fre``, ``ger``, ``chi``, ``dut``...; the terminology forms
``fra``, ``deu``, ``zho``, ``nld``... are accepted too). A code not in the table is kept as it
is, so nothing is lost. Some producers (ERIC) write the language's English name, which is
mapped too.
"""

from __future__ import annotations

from typing import Final

ISO639_1: Final[dict[str, str]] = {
    "afr": "af", "alb": "sq", "sqi": "sq", "amh": "am", "ara": "ar", "arm": "hy", "hye": "hy",
    "aze": "az", "baq": "eu", "eus": "eu", "bel": "be", "ben": "bn", "bos": "bs", "bul": "bg",
    "bur": "my", "mya": "my", "cat": "ca", "chi": "zh", "zho": "zh", "cze": "cs", "ces": "cs",
    "dan": "da", "dut": "nl", "nld": "nl", "eng": "en", "epo": "eo", "est": "et", "fin": "fi",
    "fre": "fr", "fra": "fr", "geo": "ka", "kat": "ka", "ger": "de", "deu": "de", "gla": "gd",
    "gle": "ga", "glg": "gl", "gre": "el", "ell": "el", "guj": "gu", "hat": "ht", "hau": "ha",
    "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "ibo": "ig", "ice": "is", "isl": "is",
    "ind": "id", "ita": "it", "jpn": "ja", "kan": "kn", "kaz": "kk", "khm": "km", "kin": "rw",
    "kir": "ky", "kor": "ko", "kur": "ku", "lao": "lo", "lat": "la", "lav": "lv", "lit": "lt",
    "ltz": "lb", "mac": "mk", "mkd": "mk", "mal": "ml", "mao": "mi", "mri": "mi", "mar": "mr",
    "may": "ms", "msa": "ms", "mlt": "mt", "mon": "mn", "nep": "ne", "nor": "no", "nob": "nb",
    "nno": "nn", "ori": "or", "pan": "pa", "per": "fa", "fas": "fa", "pol": "pl", "por": "pt",
    "pus": "ps", "que": "qu", "roh": "rm", "rum": "ro", "ron": "ro", "rus": "ru", "san": "sa",
    "sin": "si", "slo": "sk", "slk": "sk", "slv": "sl", "smo": "sm", "sna": "sn", "som": "so",
    "spa": "es", "srp": "sr", "swa": "sw", "swe": "sv", "tam": "ta", "tat": "tt", "tel": "te",
    "tgk": "tg", "tgl": "tl", "tha": "th", "tib": "bo", "bod": "bo", "tir": "ti", "tuk": "tk",
    "tur": "tr", "uig": "ug", "ukr": "uk", "urd": "ur", "uzb": "uz", "vie": "vi", "wel": "cy",
    "cym": "cy", "xho": "xh", "yid": "yi", "yor": "yo", "zul": "zu",
}  # fmt: skip


# Some producers (ERIC) write the English name of the language instead of a code.
_NAMES: Final[dict[str, str]] = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "russian": "ru", "chinese": "zh", "japanese": "ja",
    "korean": "ko", "arabic": "ar", "turkish": "tr", "polish": "pl", "swedish": "sv",
    "norwegian": "no", "danish": "da", "finnish": "fi", "greek": "el", "hebrew": "he",
    "czech": "cs", "hungarian": "hu", "persian": "fa", "ukrainian": "uk", "vietnamese": "vi",
}  # fmt: skip


def to_iso639_1(code: str) -> str:
    """``eng`` (or ``English``) → ``en``; a value the tables do not know comes back
    unchanged (but trimmed)."""
    key = code.strip()
    lower = key.lower()
    return ISO639_1.get(lower) or _NAMES.get(lower) or key
