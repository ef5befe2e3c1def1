"""A capture of one object (video or photos) becomes an asset folder: views, masks, billboard, mesh."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "markers": ["write_sheet"],
    "photos": ["ingest_each"],
    "pipeline": ["ingest", "IngestOptions"],
})
