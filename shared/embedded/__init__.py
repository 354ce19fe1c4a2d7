"""The embedded store: PyMongo's asynchronous API over SQLite files (see docs/storage.md).

SQLite keeps the data (write-ahead log, synchronous commits, B-tree indexes, locking
between processes); mongomock supplies MongoDB's query and aggregation semantics; the
modules here translate between them: `codec` (documents as JSON), `query` (filters as
SQL over indexed paths), `updates` (update operators), `engine` (tables, indexes,
transactions), `operations` (collection operations) and `client` (the async API).
"""

from shared.embedded.client import EmbeddedClient

__all__ = ["EmbeddedClient"]
