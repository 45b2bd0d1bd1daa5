#!/usr/bin/env bash
# Installs the PostgreSQL client libraries of the client-matrix test
# (cmd/strata/clientmatrix_test.go) on Debian. Idempotent: installs only what is
# missing, so a second run does nothing.
#   psycopg2        python3-psycopg2 (run by /usr/bin/python3, Debian's Python)
#   SQLAlchemy      python3-sqlalchemy (1.4, its Inspector over psycopg2)
#   PgJDBC          libpostgresql-jdbc-java (/usr/share/java/postgresql.jar) + a JDK (javac)
#   node-postgres   npm module pg, into $STRATA_TEST_CACHE/node (default $HOME/.cache/strata-test/node)
#   lib/pq          a Go module in go.mod: nothing to install
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
pkgs=(python3-psycopg2 python3-sqlalchemy libpostgresql-jdbc-java)
# A JDK and Node may come from elsewhere (NodeSource's nodejs ships npm and conflicts
# with Debian's npm package): ask for Debian's only when the command is missing.
command -v javac >/dev/null || pkgs+=(default-jdk-headless)
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
/usr/bin/python3 -c 'import psycopg2, sqlalchemy' 
test -f /usr/share/java/postgresql.jar
command -v javac >/dev/null
command -v java >/dev/null

# node-postgres, pinned; reused when the cache already has this version.
PG_VERSION=8.23.1
node_dir="${STRATA_TEST_CACHE:-$HOME/.cache/strata-test}/node"
have=$(node -p "require('$node_dir/node_modules/pg/package.json').version" 2>/dev/null || true)
if [ "$have" != "$PG_VERSION" ]; then
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --no-save --loglevel=error "pg@$PG_VERSION"
fi
node -e "require('$node_dir/node_modules/pg')"
echo "clients: psycopg2 $(/usr/bin/python3 -c 'import psycopg2; print(psycopg2.__version__.split()[0])'), SQLAlchemy $(/usr/bin/python3 -c 'import sqlalchemy; print(sqlalchemy.__version__)'), PgJDBC jar, $(javac -version 2>&1), node $(node --version) pg $PG_VERSION in $node_dir"
