"""The shape of the data, found in the database rather than assumed, and the bulk load.

The link between a request and its repair has gone both ways in this project's history
(`metier_demande.reparation_id`, then `metier_reparation.demande_id`); `link()` finds which.
`bulk_load()` makes N more repairs, each with its request and its child rows (order lines,
transitions...), by copying a repair the app itself made, with INSERT ... SELECT
generate_series: only ids, links and timestamps change, so every NOT NULL, check and
foreign-key rule the app's schema has is met without this module knowing about it.
"""

from __future__ import annotations

import uuid

import psycopg

REP, DEM = "metier_reparation", "metier_demande"


def _has_column(conn: psycopg.Connection, table: str, column: str) -> bool:
    return bool(
        conn.execute(
            """SELECT 1 FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = %s AND column_name = %s""",
            (table, column),
        ).fetchone()
    )


def link(conn: psycopg.Connection) -> str:
    """The join condition between `d` (metier_demande) and `r` (metier_reparation)."""
    if _has_column(conn, REP, "demande_id"):
        return "r.demande_id = d.id"
    if _has_column(conn, DEM, "reparation_id"):
        return "r.id = d.reparation_id"
    raise RuntimeError("no link between metier_demande and metier_reparation")


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    """Columns to copy: all but those the database numbers itself (identity, serial)."""
    rows = conn.execute(
        """SELECT column_name, column_default, is_identity FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = %s
            ORDER BY ordinal_position""",
        (table,),
    ).fetchall()
    return [
        name
        for name, default, identity in rows
        if not (identity == "YES" or (default or "").startswith("nextval("))
    ]


def _clone(
    conn: psycopg.Connection,
    table: str,
    template_where: str,
    source: str,
    overrides: dict[str, str],
    params: dict,
) -> int:
    """INSERT INTO table SELECT (template row(s), with overrides) FROM <source>."""
    columns = _columns(conn, table)
    names = ", ".join(f'"{c}"' for c in columns)
    exprs = ", ".join(overrides.get(c, f't."{c}"') for c in columns)
    sql = (
        f"INSERT INTO {table} ({names}) SELECT {exprs} "
        f"FROM (SELECT * FROM {table} WHERE {template_where}) t, {source}"
    )
    return conn.execute(sql, params).rowcount


def _children(conn: psycopg.Connection, parent: str) -> list[tuple[str, str]]:
    """(table, column) of every single-column foreign key that references `parent`."""
    return conn.execute(
        """SELECT c.conrelid::regclass::text, a.attname
             FROM pg_constraint c
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.confrelid = %s::regclass
              AND array_length(c.conkey, 1) = 1""",
        (parent,),
    ).fetchall()


def bulk_load(conn: psycopg.Connection, n: int) -> dict:
    """N more repairs like the first one the pipeline made, with their request and child
    rows; timestamps spread over the last N seconds. Returns counts per table."""
    join = link(conn)
    template = conn.execute(
        f"""SELECT r.id, d.id FROM {DEM} d JOIN {REP} r ON {join}
             WHERE d.statut = 'traitee' ORDER BY r.id LIMIT 1"""
    ).fetchone()
    if template is None:
        raise RuntimeError("no processed request to copy")
    rep_id, dem_id = template
    before = conn.execute(f"SELECT max(id) FROM {REP}").fetchone()[0]
    tag = uuid.uuid4().hex
    stamp = "now() - make_interval(secs => %(n)s - g)"
    new_dem = "md5(%(tag)s || g)::uuid"  # the same id, computed twice: no mapping table
    params = {"n": n, "tag": tag, "rep": rep_id, "dem": dem_id, "before": before}
    counts = {}
    series = "generate_series(1, %(n)s) g"
    if join.startswith("r.demande_id"):
        dem_times = {"cree_le": stamp, "publiee_le": stamp, "traitee_le": stamp}
        counts[DEM] = _clone(
            conn, DEM, "id = %(dem)s", series, {"id": new_dem, **dem_times}, params
        )
        counts[REP] = _clone(
            conn, REP, "id = %(rep)s", series, {"cree_le": stamp, "demande_id": new_dem}, params
        )
    else:
        counts[REP] = _clone(conn, REP, "id = %(rep)s", series, {"cree_le": stamp}, params)
    for table, column in _children(conn, REP):
        overrides = {column: "r.id"}
        if table == DEM:  # the old link: the request is the repair's child
            times = {c: "r.cree_le" for c in ("cree_le", "publiee_le", "traitee_le")}
            overrides.update({"id": "gen_random_uuid()", **times})
        counts[table] = _clone(
            conn,
            table,
            f'"{column}" = %(rep)s',
            f"{REP} r WHERE r.id > %(before)s",
            overrides,
            params,
        )
    for table in counts:
        conn.execute(f"VACUUM ANALYZE {table}")
    return counts
