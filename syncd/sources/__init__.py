"""Where records come from: an input (a MEDLINE export, a PMID list, a PubMed CSV, PMIDs given
with ``--pmid``) yields MEDLINE records with their ``where``, and the engine takes them from
there without knowing more about their origin.

* :mod:`syncd.sources.registry`: the one answer to "is this file an input, and which kind",
  for ``syncd import FOLDER``, ``syncd convert`` and the daemon's watcher.
* :mod:`syncd.sources.ids`: ID inputs, whose articles are fetched from PubMed through
  E-utilities unless the library already holds them.
"""
