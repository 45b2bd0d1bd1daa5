"""psycopg2 client of the client-matrix test (cmd/strata/clientmatrix_test.go).

Usage: /usr/bin/python3 psycopg2_client.py HOST PORT < queries
Connects as strata with sslmode MATRIX_SSLMODE (default disable), MATRIX_SSLROOTCERT
and MATRIX_PASSWORD when set (the matrix's TLS run).
Each input line is NAME<TAB>SQL[<TAB>TYPE:VALUE]... with %s placeholders (psycopg2
interpolates parameters on the client and sends simple Query messages). TYPE is text
or timestamptz. Prints one JSON object: {"driver", "connect_error"?, "steps": {NAME:
{"columns": [...], "rows": [[text or null]...]} or {"error", "sqlstate"}}}.
Autocommit stays off (psycopg2's default): it sends BEGIN before the first statement
and ROLLBACK after a failed one, as an application would.
"""
import datetime
import json
import os
import sys

import psycopg2


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


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    out = {"driver": "psycopg2 " + psycopg2.__version__.split()[0], "steps": {}}
    try:
        opts = dict(host=host, port=port, user="strata", dbname="strata",
                    sslmode=os.environ.get("MATRIX_SSLMODE", "disable"), connect_timeout=10)
        if os.environ.get("MATRIX_SSLROOTCERT"):
            opts["sslrootcert"] = os.environ["MATRIX_SSLROOTCERT"]
        if os.environ.get("MATRIX_PASSWORD"):
            opts["password"] = os.environ["MATRIX_PASSWORD"]
        conn = psycopg2.connect(**opts)
    except Exception as e:
        out["connect_error"] = ("%s: %s" % (type(e).__name__, e)).strip()
        print(json.dumps(out))
        return
    for line in sys.stdin.read().splitlines():
        if not line:
            continue
        name, sql, *ps = line.split("\t")
        params = [param(p) for p in ps]
        try:
            cur = conn.cursor()
            if params:
                cur.execute(sql, params)
            else:
                cur.execute(sql)
            cols = [d.name for d in cur.description] if cur.description else []
            rows = [[cell(v) for v in r] for r in cur.fetchall()] if cur.description else []
            cur.close()
            out["steps"][name] = {"columns": cols, "rows": rows}
        except Exception as e:
            out["steps"][name] = {"error": ("%s: %s" % (type(e).__name__, e)).strip(),
                                  "sqlstate": getattr(e, "pgcode", None) or ""}
            try:
                conn.rollback()
            except Exception:
                pass
    try:
        conn.commit()
    except Exception as e:
        out["steps"]["commit"] = {"error": ("%s: %s" % (type(e).__name__, e)).strip()}
    conn.close()
    print(json.dumps(out))


main()
