"""OGC API - Records adapter: the catalogue's record collections served over pygeoapi's
collection routes (see :mod:`.http`)."""
