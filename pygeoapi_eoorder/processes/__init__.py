"""Processes added at run time (OGC API - Processes Part 2) and their packages."""
