"""OpenSearch with the Geo, Time and EO extensions (OGC 10-032r8, OGC 13-026r9) at /opensearch.

Two-step search: /opensearch describes the search over collections (series); each entry of
its results links to the description of one collection, /opensearch/collections/{id},
whose template searches that collection's products (`parentIdentifier` selects it in the
first-step endpoint too). Results are Atom or GeoJSON (OGC 17-047), by `httpAccept`.

An adapter over the catalogue: parameters become the catalogue's query model
(:mod:`.query`), run by the SQL record provider (:mod:`.views`), answered as Atom or GeoJSON
(:mod:`.encode`); the app hook is :mod:`.http`.
"""
