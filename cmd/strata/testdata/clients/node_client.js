// node-postgres client of the client-matrix test (cmd/strata/clientmatrix_test.go).
//
// Usage: NODE_PATH=<dir with node_modules/pg> node node_client.js HOST PORT < queries
// Each input line is NAME<TAB>SQL[<TAB>TYPE:VALUE]... with $n placeholders; TYPE is
// text or timestamptz (passed as a JS Date, which node-postgres sends as text with
// the local offset). Without values node-postgres sends a simple Query; with values
// Parse (no type OIDs) + Bind (text) + Describe P + Execute + Sync. Every query without
// values is run a second time as NAME/extended with queryMode 'extended' (the same
// extended-protocol path with no parameters); every query with values runs again as a
// named prepared statement, twice (the second, NAME/named, skips Parse). Prints one
// JSON object like psycopg2_client.py. Connects as strata; with MATRIX_SSLMODE=verify-full
// over TLS verifying the server against the CA in MATRIX_SSLROOTCERT (node's checks of
// the chain and of the host name or address), with MATRIX_PASSWORD when set.
'use strict';
const { Client } = require('pg');
const fs = require('fs');

function cell(v) {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

function param(p) {
  const i = p.indexOf(':');
  const ty = p.slice(0, i), v = p.slice(i + 1);
  return ty === 'timestamptz' ? new Date(v) : v;
}

function errJSON(e) {
  return { error: String((e && e.message) || e), sqlstate: (e && e.code) || '' };
}

async function main() {
  const [host, port] = process.argv.slice(2);
  const version = require('pg/package.json').version;
  const out = { driver: 'node-postgres ' + version, steps: {} };
  const cfg = { host, port: Number(port), user: 'strata', database: 'strata', connectionTimeoutMillis: 10000 };
  if (process.env.MATRIX_PASSWORD) cfg.password = process.env.MATRIX_PASSWORD;
  const mode = process.env.MATRIX_SSLMODE || 'disable';
  if (mode === 'verify-full') {
    cfg.ssl = { ca: fs.readFileSync(process.env.MATRIX_SSLROOTCERT), rejectUnauthorized: true };
  } else if (mode !== 'disable') {
    throw new Error('node_client.js: MATRIX_SSLMODE ' + mode + ' is not supported');
  }
  const c = new Client(cfg);
  try {
    await c.connect();
  } catch (e) {
    out.connect_error = String((e && e.message) || e);
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  const lines = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0);
  const run = async (name, q) => {
    try {
      const r = await c.query(q);
      out.steps[name] = { columns: r.fields.map((f) => f.name), rows: r.rows.map((row) => row.map(cell)) };
    } catch (e) {
      out.steps[name] = errJSON(e);
    }
  };
  for (const line of lines) {
    const [name, text, ...ps] = line.split('\t');
    if (ps.length > 0) {
      await run(name, { text, values: ps.map(param), rowMode: 'array' });
      // A named prepared statement: Parse once, then only Bind/Execute; the second
      // execution is NAME/named.
      const named = { name: 'matrix_' + name, text, values: ps.map(param), rowMode: 'array' };
      await run(name + '/named-first', named);
      await run(name + '/named', named);
    } else {
      await run(name, { text, rowMode: 'array' });
      await run(name + '/extended', { text, rowMode: 'array', queryMode: 'extended' });
    }
  }
  await c.end();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ connect_error: 'node client crashed: ' + String((e && e.stack) || e), steps: {} }) + '\n');
});
