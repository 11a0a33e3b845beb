"""syncd: import PubMed/MEDLINE exports into a Zotero library exactly once."""

__version__ = "0.1.0"
