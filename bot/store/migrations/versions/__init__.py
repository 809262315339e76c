"""One script per change of the store's schema, oldest first (alembic reads them, not Python's
import system; this file only makes the folder part of the package, so it ships)."""
