"""Ingest: a capture of one object (turntable video or photos) becomes an asset folder."""
