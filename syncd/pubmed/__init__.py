"""PubMed through NCBI's E-utilities: syncd's own small client (:mod:`syncd.pubmed.eutils`)
and the pace all syncd processes of a user keep together (:mod:`syncd.pubmed.pace`)."""
