package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The table options (CREATE TABLE … WITH (name = value, …)), each declared once:
// its name, value kind, default and the line the README's option table shows
// (README_test.go renders the table from this list and requires the README to hold
// it). CheckOption validates a value by its kind, so a bad value fails CREATE TABLE
// instead of every later handoff or ingest, and refuses a name that is not here.
// The packages that act on an option read TableDef.Options by these names
// (ingest/stream, storage/store, storage/rollup, sql); their finer checks (a lake
// location under a root, a time column that exists) run on top of CheckOption.

// OptionKind is the kind of value an option takes.
type OptionKind uint8

const (
	OptText             OptionKind = iota // any text
	OptColumn                             // a column of the table
	OptBool                               // true/false, on/off, yes/no, 1/0
	OptPositive                           // an integer > 0
	OptDuration                           // a duration ≥ 0: '10 seconds', '5 minutes', '1h30m', bare seconds
	OptPositiveDuration                   // a duration > 0
	OptEnum                               // one of Values (case-insensitive)
	OptLocation                           // a folder or s3:// URL under a lake root (checked by sql)
)

var kindNames = [...]string{OptText: "text", OptColumn: "column name", OptBool: "boolean", OptPositive: "positive integer",
	OptDuration: "duration", OptPositiveDuration: "duration > 0", OptEnum: "one of", OptLocation: "location"}

// TableOption declares one table option.
type TableOption struct {
	Name    string
	Kind    OptionKind
	Values  []string // OptEnum: the accepted values, lower case unless case matters to a reader
	Default string   // what applies when the option is not given, as the README says it
	Doc     string   // one line for the README
	// Superuser: only a superuser may set it (it names a server location or a
	// broker to connect to). Secret: no view, listing or message shows its value.
	// Internal: set by strata itself (CREATE EXTERNAL TABLE, a lookup table's
	// keys), refused in WITH.
	Superuser, Secret, Internal bool
}

// Table option names.
const (
	OptTimeColumn          = "time_column"
	OptSegmentGranularity  = "segment_granularity"
	OptRollup              = "rollup"
	OptKafkaBrokers        = "kafka_brokers"
	OptKafkaTopic          = "kafka_topic"
	OptKafkaGroup          = "kafka_group"
	OptKafkaStart          = "kafka_start"
	OptKafkaSASLMechanism  = "kafka_sasl_mechanism"
	OptKafkaSASLUser       = "kafka_sasl_user"
	OptKafkaSASLPassword   = "kafka_sasl_password"
	OptKafkaTLS            = "kafka_tls"
	OptKafkaSessionTimeout = "kafka_session_timeout"
	OptKafkaRebalance      = "kafka_rebalance_timeout"
	OptPersistRows         = "persist_rows"
	OptPersistInterval     = "persist_interval"
	OptLateRejection       = "late_message_rejection"
	OptKeepUnknownFields   = "keep_unknown_fields"
	OptMaxRecordBytes      = "max_record_bytes"
	OptLakePath            = "lake_path"
	OptHandoff             = "handoff"
	OptHandoffGrace        = "handoff_grace"
	OptLakeRefresh         = "lake_refresh"
	OptExternal            = "external"
	OptLookup              = "lookup"
	OptPrimaryKey          = "primary_key"
	OptUnique              = "unique"
	OptClusterTable        = "cluster_table"
	OptIngestPaused        = "ingest_paused"
)

// Granularities are segment_granularity's values: the length of a time chunk.
var Granularities = []string{"second", "minute", "five_minute", "ten_minute", "fifteen_minute", "thirty_minute",
	"hour", "six_hour", "day", "week"}

// TableOptions are every table option, in the README's order.
var TableOptions = []TableOption{
	{Name: OptTimeColumn, Kind: OptColumn, Default: "the first timestamp/timestamptz column declared NOT NULL",
		Doc: "the table's time column (timestamp or timestamptz, made NOT NULL)"},
	{Name: OptSegmentGranularity, Kind: OptEnum, Values: Granularities, Default: "hour",
		Doc: "the length of a time chunk: the unit of persisting, pruning and handoff"},
	{Name: OptRollup, Kind: OptPositiveDuration, Default: "none",
		Doc: "store rows equal in their text/boolean columns within one time bucket as one row (count, sum, min, max per metric)"},
	{Name: OptKafkaTopic, Kind: OptText, Superuser: true, Default: "none: a batch table (INSERT, COPY)",
		Doc: "the Kafka topic the table ingests, exactly once"},
	{Name: OptKafkaBrokers, Kind: OptText, Superuser: true, Default: "the server's `--kafka-brokers`",
		Doc: "host:port,… of the Kafka cluster"},
	{Name: OptKafkaGroup, Kind: OptText, Superuser: true, Default: "`strata-<table>`", Doc: "the consumer group"},
	{Name: OptKafkaStart, Kind: OptEnum, Values: []string{"earliest", "latest"}, Superuser: true, Default: "earliest",
		Doc: "where a new group starts reading"},
	{Name: OptKafkaSASLMechanism, Kind: OptEnum, Values: []string{"plain", "scram-sha-256", "scram-sha-512"}, Superuser: true,
		Default: "none", Doc: "SASL authentication with kafka_sasl_user and kafka_sasl_password"},
	{Name: OptKafkaSASLUser, Kind: OptText, Superuser: true, Default: "none", Doc: "the SASL user"},
	{Name: OptKafkaSASLPassword, Kind: OptText, Superuser: true, Secret: true, Default: "none",
		Doc: "the SASL password; never shown by a view, status or error"},
	{Name: OptKafkaTLS, Kind: OptBool, Superuser: true, Default: "false", Doc: "TLS to the brokers, with the system's roots"},
	{Name: OptKafkaSessionTimeout, Kind: OptPositiveDuration, Superuser: true, Default: "10 seconds",
		Doc: "how long the group waits for a member that stopped heartbeating before its partitions move"},
	{Name: OptKafkaRebalance, Kind: OptPositiveDuration, Superuser: true, Default: "twice the session timeout, at least 5 seconds",
		Doc: "how long a group rebalance waits for members to rejoin"},
	{Name: OptPersistRows, Kind: OptPositive, Default: "500000", Doc: "rows in the real-time head before it is persisted as segments"},
	{Name: OptPersistInterval, Kind: OptPositiveDuration, Default: "10 seconds", Doc: "time between persists of the real-time head"},
	{Name: OptLateRejection, Kind: OptDuration, Default: "none",
		Doc: "reject (to `<table>_rejects`) records whose time is before now() minus this"},
	{Name: OptKeepUnknownFields, Kind: OptColumn, Default: "none", Doc: "a text column that receives a record's unknown JSON fields"},
	{Name: OptMaxRecordBytes, Kind: OptPositive, Default: "1048576", Doc: "larger records are rejected"},
	{Name: OptLakePath, Kind: OptLocation, Superuser: true, Default: "`<data dir>/lake/<table id>`",
		Doc: "where the table's Delta Lake table lives: a folder or `s3://bucket/prefix` under a `--lake-root`"},
	{Name: OptHandoff, Kind: OptEnum, Values: []string{"on", "off", "true", "false"}, Default: "on",
		Doc: "hand closed time chunks to the lake; a Kafka table with a `lake_path` hands off everything it persisted, by partition offset, every `--handoff-interval`"},
	{Name: OptHandoffGrace, Kind: OptDuration, Default: "10 minutes", Doc: "wait after a chunk's end for late rows before handing it off"},
	{Name: OptLakeRefresh, Kind: OptDuration, Default: "1 second",
		Doc: "how often queries look for Delta versions other writers (another strata sharing lake_path, Spark, delta-rs) committed"},
	{Name: OptExternal, Kind: OptBool, Internal: true, Default: "false", Doc: "set by CREATE EXTERNAL TABLE: a Delta table strata only reads"},
	{Name: OptLookup, Kind: OptBool, Internal: true, Default: "false", Doc: "set by CREATE TABLE without a time column: a lookup table"},
	{Name: OptPrimaryKey, Kind: OptText, Internal: true, Default: "none", Doc: "set by CREATE TABLE from a lookup table's PRIMARY KEY: its columns"},
	{Name: OptUnique, Kind: OptText, Internal: true, Default: "none", Doc: "set by CREATE TABLE from a lookup table's UNIQUE constraints"},
	{Name: OptIngestPaused, Kind: OptBool, Internal: true, Default: "false",
		Doc: "set by `ALTER TABLE … PAUSE INGEST` under `--cluster` (reset by `RESUME INGEST`): every node's Kafka ingestion of the table is paused"},
	{Name: OptClusterTable, Kind: OptText, Internal: true, Default: "none",
		Doc: "set by `strata serve --cluster`: the Delta metaData id of the definition this node's copy of the table follows"},
}

// LookupOption returns the declaration of option name (lower case).
func LookupOption(name string) (TableOption, bool) {
	i := slices.IndexFunc(TableOptions, func(o TableOption) bool { return o.Name == name })
	if i < 0 {
		return TableOption{}, false
	}
	return TableOptions[i], true
}

// OptionError is a refused table option: the option is unknown, internal, or its
// value is not of its kind. The SQL layer sends it as 22023
// (invalid_parameter_value), as PostgreSQL does for a bad reloption.
type OptionError struct {
	Name, Value string
	Message     string
}

func (e *OptionError) Error() string { return e.Message }

// CheckOption validates option name (lower case) with value v by its declaration.
func CheckOption(name, v string) error {
	o, ok := LookupOption(name)
	if !ok {
		return &OptionError{Name: name, Value: v, Message: fmt.Sprintf("unrecognized parameter %q", name)}
	}
	if o.Internal {
		return &OptionError{Name: name, Value: v, Message: fmt.Sprintf("parameter %q is set by strata itself, not in WITH", name)}
	}
	bad := func() error {
		return &OptionError{Name: name, Value: v, Message: fmt.Sprintf("invalid value for parameter %q: %q (%s)", name, v, o.Describe())}
	}
	t := strings.TrimSpace(v)
	switch o.Kind {
	case OptColumn, OptLocation:
		if t == "" {
			return bad()
		}
	case OptBool:
		if _, ok := ParseBool(t); !ok {
			return bad()
		}
	case OptPositive:
		if n, err := strconv.Atoi(t); err != nil || n <= 0 {
			return bad()
		}
	case OptDuration, OptPositiveDuration:
		d, err := ParseDuration(t)
		if err != nil || d < 0 || d == 0 && o.Kind == OptPositiveDuration {
			return bad()
		}
	case OptEnum:
		if !slices.Contains(o.Values, strings.ToLower(t)) {
			return bad()
		}
	}
	return nil
}

// Describe says what values the option takes, for errors and the README.
func (o TableOption) Describe() string {
	if o.Kind == OptEnum {
		return strings.Join(o.Values, ", ")
	}
	return kindNames[o.Kind]
}

// ParseBool reads a boolean option as PostgreSQL reads a boolean reloption.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "on", "yes", "1", "t", "y":
		return true, true
	case "false", "off", "no", "0", "f", "n":
		return false, true
	}
	return false, false
}

// OptionsMarkdown renders TableOptions as the README's table.
func OptionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| option | value | default | |\n|---|---|---|---|\n")
	for _, o := range TableOptions {
		var notes []string
		if o.Superuser {
			notes = append(notes, "superuser only")
		}
		if o.Internal {
			notes = append(notes, "not settable in WITH")
		}
		doc := o.Doc
		if len(notes) > 0 {
			doc += " (" + strings.Join(notes, "; ") + ")"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", o.Name, o.Describe(), o.Default, doc)
	}
	return b.String()
}
