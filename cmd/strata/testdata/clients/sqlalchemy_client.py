"""SQLAlchemy client of the client-matrix test (cmd/strata/clientmatrix_test.go).

Usage: /usr/bin/python3 sqlalchemy_client.py HOST PORT < queries
Debian's python3-sqlalchemy (1.4) over psycopg2, as Superset browses a database:
runs the queries like psycopg2_client.py (through SQLAlchemy's connection), then the
PostgreSQL dialect's Inspector over every table: get_table_names, and per table
get_columns, get_pk_constraint, get_foreign_keys and get_indexes and get_unique_constraints
(steps sa_tables, sa_columns/T, sa_pk/T, sa_fks/T, sa_indexes/T, sa_uniques/T, the
last sorted by name: the dialect's query has no ORDER BY), each rendered as
{"columns": [...], "rows": [[str(value)]...]} (None as "None") or {"error", "sqlstate"}.
Connects as strata with MATRIX_SSLMODE, MATRIX_SSLROOTCERT and MATRIX_PASSWORD.
"""
import datetime
import json
import os
import sys

import sqlalchemy
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL


def cell(v):
    if v is None:
        return None
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    return str(v)


def param(p):
    ty, v = p.split(":", 1)
    if ty == "timestamptz":
        return datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    return v


def error(e):
    orig = getattr(e, "orig", e)
    return {"error": ("%s: %s" % (type(e).__name__, e)).strip()[:2000],
            "sqlstate": getattr(orig, "pgcode", None) or ""}


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    out = {"driver": "SQLAlchemy " + sqlalchemy.__version__, "steps": {}}
    query = {"sslmode": os.environ.get("MATRIX_SSLMODE", "disable"), "connect_timeout": "10"}
    if os.environ.get("MATRIX_SSLROOTCERT"):
        query["sslrootcert"] = os.environ["MATRIX_SSLROOTCERT"]
    url = URL.create("postgresql+psycopg2", username="strata", password=os.environ.get("MATRIX_PASSWORD") or None,
                     host=host, port=port, database="strata", query=query)
    try:
        engine = create_engine(url)
        conn = engine.connect()
    except Exception as e:
        out["connect_error"] = ("%s: %s" % (type(e).__name__, e)).strip()
        print(json.dumps(out))
        return
    for line in sys.stdin.read().splitlines():
        if not line:
            continue
        name, sql, *ps = line.split("\t")
        try:
            res = conn.exec_driver_sql(sql, tuple(param(p) for p in ps)) if ps else conn.exec_driver_sql(sql)
            out["steps"][name] = {"columns": list(res.keys()), "rows": [[cell(v) for v in r] for r in res.fetchall()]}
        except Exception as e:
            out["steps"][name] = error(e)
    conn.close()

    insp = inspect(engine)

    def step(name, columns, rows):
        try:
            out["steps"][name] = {"columns": columns, "rows": [[str(v) for v in r] for r in rows()]}
        except Exception as e:
            out["steps"][name] = error(e)

    tables = []
    step("sa_tables", ["name"], lambda: [[t] for t in insp.get_table_names()])
    if "rows" in out["steps"]["sa_tables"]:
        tables = [r[0] for r in out["steps"]["sa_tables"]["rows"]]
    for t in tables:
        step("sa_columns/" + t, ["name", "type", "nullable", "default"],
             lambda: [[c["name"], c["type"], c["nullable"], c["default"]] for c in insp.get_columns(t)])
        step("sa_pk/" + t, ["name", "constrained_columns"],
             lambda: [[pk["name"], ",".join(pk["constrained_columns"])] for pk in [insp.get_pk_constraint(t)]])
        step("sa_fks/" + t, ["name", "constrained_columns", "referred_table"],
             lambda: [[fk["name"], ",".join(fk["constrained_columns"]), fk["referred_table"]] for fk in insp.get_foreign_keys(t)])
        step("sa_indexes/" + t, ["name", "column_names", "unique", "duplicates_constraint"],
             lambda: [[ix["name"], ",".join(ix["column_names"]), ix["unique"], ix.get("duplicates_constraint")]
                      for ix in insp.get_indexes(t)])
        step("sa_uniques/" + t, ["name", "column_names"],
             lambda: sorted([uc["name"], ",".join(uc["column_names"])] for uc in insp.get_unique_constraints(t)))
    print(json.dumps(out))


main()
