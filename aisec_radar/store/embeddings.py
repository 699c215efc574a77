"""Embedding cache keyed by (content hash, encoder model key): unchanged text is never encoded twice."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import numpy as np


def _settle(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB refuses register() while an earlier execute() result is unread (e.g. a migration's);
    running and fully reading a trivial query clears it without touching the transaction."""
    con.execute("SELECT 1").fetchall()


def get_embeddings(con: duckdb.DuckDBPyConnection, model_key: str,
                   hashes: Iterable[str]) -> dict[str, np.ndarray]:
    """Cached vectors for those hashes that have one under this model key (float32 rows)."""
    wanted = list(dict.fromkeys(hashes))
    if not wanted:
        return {}
    import pyarrow as pa

    _settle(con)
    con.register("_wanted_hashes", pa.table({"content_hash": pa.array(wanted, pa.string())}))
    try:
        rows = con.execute(
            "SELECT e.content_hash, e.vector FROM embeddings e JOIN _wanted_hashes w USING (content_hash) "
            "WHERE e.model = ?", [model_key]
        ).fetchall()
    finally:
        con.unregister("_wanted_hashes")
    return {h: np.asarray(v, dtype=np.float32) for h, v in rows}


def put_embeddings(con: duckdb.DuckDBPyConnection, model_key: str, vectors: dict[str, np.ndarray]) -> int:
    """Store vectors not cached yet; return how many were added. The caller owns the transaction."""
    if not vectors:
        return 0
    import pyarrow as pa

    hashes = list(vectors)
    mat = np.stack([np.asarray(vectors[h], dtype=np.float32) for h in hashes])
    flat = pa.array(mat.reshape(-1), pa.float32())
    offsets = pa.array(np.arange(0, mat.size + 1, mat.shape[1], dtype=np.int32))
    table = pa.table({"content_hash": pa.array(hashes, pa.string()),
                      "vector": pa.ListArray.from_arrays(offsets, flat)})
    _settle(con)
    con.register("_new_vectors", table)
    try:
        row = con.execute(
            "INSERT INTO embeddings (content_hash, model, vector) "
            "SELECT n.content_hash, ?, n.vector FROM _new_vectors n "
            "ON CONFLICT (content_hash, model) DO NOTHING", [model_key]
        ).fetchone()
        added = int(row[0]) if row else 0
    finally:
        con.unregister("_new_vectors")
    return added


def count_embeddings(con: duckdb.DuckDBPyConnection, model_key: str | None = None) -> int:
    if model_key is None:
        return int(con.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    return int(con.execute("SELECT count(*) FROM embeddings WHERE model = ?", [model_key]).fetchone()[0])
