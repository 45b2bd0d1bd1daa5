-- The read-only role Grafana's data source connects as (provisioning/datasources/strata.yaml).
--
-- Run it once as the superuser strata, choosing the password on the command line:
--
--   psql -h 127.0.0.1 -p 5433 -U strata strata -v grafana_password='...' -f deploy/grafana/grafana-role.sql
--
-- and give Grafana the same password (GRAFANA_STRATA_PASSWORD in the data source file).
-- The password is stored as a SCRAM-SHA-256 verifier, never in clear.

CREATE ROLE grafana LOGIN PASSWORD :'grafana_password';

-- Read every table, those that exist and those created later; write none. A
-- narrower alternative is GRANT SELECT ON ALL TABLES IN SCHEMA public TO grafana
-- (tables created after it need their own GRANT).
GRANT pg_read_all_data TO grafana;
