"""Errors of the retrieval layer; the CLI and the API map them to messages and status codes.

    KmedError                  anything this project raises on purpose
    ├── ConfigurationError     a setting is wrong (model not found, bad URL): fix the settings
    ├── IndexUnavailable       the index cannot be opened (missing, locked by another process)
    │   └── IndexNotBuilt      nothing was ingested yet: run `kmed ingest`
    ├── InvalidQuery           the question is empty, too long, or a filter is malformed
    ├── NotFound               a clause or document id that the index does not hold
    ├── SourceChanged          a source file differs from the one ingested: ingest it again
    └── IngestError            (ingest.errors) a source file cannot be read into clauses

"No evidence found" is not an error: search returns no hits.
"""


class KmedError(Exception):
    """Base class; its message is shown to the user as it is."""


class ConfigurationError(KmedError):
    """A setting is invalid; shown at start-up."""


class IndexUnavailable(KmedError):
    """The index cannot be opened; the API answers 503, the CLI exits 3."""


class IndexNotBuilt(IndexUnavailable):
    """The data directory holds no index yet."""


class InvalidQuery(KmedError):
    """The request itself is wrong; the API answers 422, the CLI exits 2."""


class NotFound(KmedError):
    """An id the index does not hold; the API answers 404."""


class SourceChanged(KmedError):
    """A source file (a guideline PDF) is not the one ingested; the API answers 409."""
