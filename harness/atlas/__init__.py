"""The atlas: every release step's random-stream changes and every random API's history,
as a static site (``rngdrift atlas RUN``) and as the data ``rngdrift explain`` answers
from offline. Built from the report's model (``harness.report``), never re-derived.

    apis       the API pages: which APIs a finding touches (apis.csv, the vocabulary)
    model      the report's findings arranged by step and by API, with CPU classes
    upgrades   every upgrade between two cells, as the report answers it (explain.json)
    answers    reading explain.json (standard library only: explain starts in a blink)
    site       the HTML pages, the search index and its script
"""
