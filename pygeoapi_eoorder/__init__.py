"""pygeoapi-eoorder: EO ordering, processing and catalogue on pygeoapi."""

__version__ = '0.1.0'
