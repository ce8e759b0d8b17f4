"""Errors raised while reading source documents into clauses.

    KmedError (retrieval.errors)
     └── IngestError       catch this at the CLI/API edge: any ingestion failure
          └── ParseError   the file was read but its content is malformed for its format
               └── UnsupportedFormat
                           the file is a kind of document this parser does not read
                           (a PDF, a law.go.kr search/history list, an unknown layout)

Every message says which file, what is wrong, and what to do about it; the CLI shows it as is.
"""

from __future__ import annotations

from retrieval.errors import KmedError


class IngestError(KmedError):
    """Base of ingestion errors; the CLI prints the message and exits non-zero."""


class ParseError(IngestError):
    """A source file is malformed for its format; shown to the operator who supplied the file."""


class UnsupportedFormat(ParseError):
    """A source file is readable but not a single statute in a supported format."""
