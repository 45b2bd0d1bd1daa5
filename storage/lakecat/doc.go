// Package lakecat owns a cluster's catalog kept in the lake (`strata serve
// --cluster <location>`, an s3://bucket/prefix or a folder): the definition of
// every table and the role catalog, shared by every node that names the same
// location, with no metadata store beside the Delta logs.
//
// Layout under the location:
//
//	tables/<folder>/_delta_log/…   one Delta table per table name. Its metaData
//	                               holds the definition (below); unless the table
//	                               sets lake_path, its handoffs commit their
//	                               Parquet files to this same Delta table, and a
//	                               lookup table's rows live there (every write a
//	                               copy-on-write commit: storage/store's
//	                               lookupshared.go).
//	names/<folder>                 an empty object per folder ever created, so a
//	                               node finds the tables by listing one short
//	                               prefix instead of every data file.
//	roles/_delta_log/…             a Delta table whose metaData configuration
//	                               holds the role catalog: roles (passwords only as
//	                               SCRAM-SHA-256 verifiers), memberships, and the
//	                               privileges of schema public and of each table
//	                               (by the table's metaData id).
//
// <folder> is the table name with every byte outside [a-z0-9_-] written as ~XX
// (two lower-case hex digits), so a name never becomes a path element of its own
// ("..", "a/b") and two names never share a folder.
//
// A definition is the metaData action of the table's Delta table:
// schemaString is the lake schema handoff writes (the columns and the date
// partition column, as Spark, Trino and DuckDB read them), and configuration
// carries what strata needs exactly: strata.format ("1"), strata.name,
// strata.columns (JSON: names, SQL types, type modifiers, NOT NULL),
// strata.timeColumn, strata.granularity (µs), strata.owner (role OID),
// strata.option.<name> for each table option (kafka_*, lake_path, …) and
// strata.dropped ("true" once dropped). metaData.id names one generation of the
// table: CREATE gives a new one, ALTER (OWNER TO, SET/RESET options) and DROP keep
// it. ALTER … OWNER TO also moves the old owner's privileges to the new owner in
// the roles table, in a second commit.
//
// Invariants:
//   - Every change is one Delta commit made with put-if-absent, so among
//     concurrent changes of one table (or of the roles) exactly one wins. CREATE
//     of a name whose log exists and is live fails with catalog.ErrTableExists
//     (42P07); any other lost race (two ALTERs, ALTER against DROP, two role
//     changes) fails with ErrConflict (40001) and changes nothing.
//   - DROP is a commit of the same log that marks the metaData dropped and removes
//     every live data file (readers elsewhere see an empty table; VACUUM reclaims
//     the files). A tombstone table was not chosen: one log per name keeps CREATE,
//     ALTER and DROP of that name serialized by one put-if-absent, and a later
//     CREATE of the name is the next commit of the same log, with a new metaData id.
//   - A definition read from the location is validated before it is used: a
//     metaData that does not parse, names another table than its folder, a name
//     with a path separator, columns that disagree with schemaString, an unknown
//     option or a lake_path outside the lake roots is refused with an error in the
//     log and never followed; the node's copy of the table stays as it was.
//   - The local pebble catalog is a cache: a table the cluster defines carries
//     option cluster_table (its metaData id) on this node, and only such tables are
//     created, changed and dropped by the refresh; tables without it (a node's own
//     <table>_rejects, tables made before --cluster) are never touched.
//   - The refresh reads, per known table, the next commit file of its log (one
//     GET that usually misses) and lists names/; nothing is replayed unless a
//     commit appeared.
package lakecat
