"""HTTP routes this package adds to pygeoapi's API."""
