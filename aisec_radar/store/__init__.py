"""The only package that runs SQL. Stages call these functions; none of them sees a cursor otherwise.

Connections are short-lived (see db.py): open with ``connect``/``transaction``, call the helpers
in papers/labels/runs/..., close.
"""

from aisec_radar.store.db import code_schema_version, connect, init_db, transaction

__all__ = ["code_schema_version", "connect", "init_db", "transaction"]
