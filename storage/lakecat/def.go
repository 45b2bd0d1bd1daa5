package lakecat

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/store"
)

// Configuration keys of a table's metaData.
const (
	keyFormat      = "strata.format"
	keyName        = "strata.name"
	keyColumns     = "strata.columns"
	keyTimeColumn  = "strata.timeColumn"
	keyGranularity = "strata.granularity"
	keyOwner       = "strata.owner"
	keyDropped     = "strata.dropped"
	keyOptPrefix   = "strata.option."
	formatVersion  = "1"
)

// ErrRefused marks a definition or role catalog read from the location that is
// not valid: it is logged and never used.
var ErrRefused = errors.New("lakecat: refused")

// folderOf returns the folder of table name.
func folderOf(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "~%02x", c)
	}
	return b.String()
}

// nameOf decodes a folder; ok is false for anything folderOf does not produce.
func nameOf(folder string) (string, bool) {
	var b []byte
	for i := 0; i < len(folder); i++ {
		c := folder[i]
		if c != '~' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(folder) {
			return "", false
		}
		v, err := strconv.ParseUint(folder[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b = append(b, byte(v))
		i += 2
	}
	name := string(b)
	return name, name != "" && folderOf(name) == folder
}

// checkName refuses names a cluster does not take: empty, NUL, invalid UTF-8, a
// path separator, "." and "..".
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || !utf8.ValidString(name) {
		return fmt.Errorf("table name %q: a cluster table name may not be empty, . or .., nor hold / \\ or NUL: %w", name, catalog.ErrInvalidName)
	}
	return nil
}

// encodeDef returns the metaData configuration, schemaString and partition
// columns of def.
func encodeDef(def *catalog.TableDef) (map[string]string, string, []string, error) {
	dt, parts, err := store.LakeSchema(&def.Schema)
	if err != nil {
		return nil, "", nil, err
	}
	ss, err := json.Marshal(dt)
	if err != nil {
		return nil, "", nil, err
	}
	cols, err := json.Marshal(def.Schema.Columns)
	if err != nil {
		return nil, "", nil, err
	}
	conf := map[string]string{
		keyFormat:      formatVersion,
		keyName:        def.Name,
		keyColumns:     string(cols),
		keyTimeColumn:  strconv.Itoa(def.Schema.TimeColumn),
		keyGranularity: strconv.FormatInt(def.Granularity.Microseconds(), 10),
		keyOwner:       strconv.FormatUint(uint64(def.OwnerOID()), 10),
	}
	for k, v := range def.Options {
		if k == catalog.OptClusterTable {
			continue
		}
		conf[keyOptPrefix+k] = v
	}
	return conf, string(ss), parts, nil
}

// decodeDef reads the definition in meta, found in folder. dropped reports a
// dropped table (def is then still decoded). Every error wraps ErrRefused.
func decodeDef(folder string, meta *lake.Metadata) (def catalog.TableDef, dropped bool, err error) {
	refuse := func(format string, args ...any) (catalog.TableDef, bool, error) {
		return catalog.TableDef{}, false, fmt.Errorf("table folder %q: %s: %w", folder, fmt.Sprintf(format, args...), ErrRefused)
	}
	name, ok := nameOf(folder)
	if !ok {
		return refuse("not a table folder name")
	}
	conf := meta.Configuration
	if conf[keyFormat] != formatVersion {
		return refuse("metaData configuration %s is %q, want %q", keyFormat, conf[keyFormat], formatVersion)
	}
	if conf[keyName] != name {
		return refuse("metaData names table %q", conf[keyName])
	}
	if err := checkName(name); err != nil {
		return refuse("%v", err)
	}
	def.Name = name
	if err := json.Unmarshal([]byte(conf[keyColumns]), &def.Schema.Columns); err != nil {
		return refuse("%s: %v", keyColumns, err)
	}
	if def.Schema.TimeColumn, err = strconv.Atoi(conf[keyTimeColumn]); err != nil {
		return refuse("%s: %v", keyTimeColumn, err)
	}
	if err := def.Schema.Validate(); err != nil {
		return refuse("columns: %v", err)
	}
	us, err := strconv.ParseInt(conf[keyGranularity], 10, 64)
	if err != nil || us <= 0 || us > int64(time.Duration(1<<62)/time.Microsecond) {
		return refuse("%s %q is not a positive number of microseconds", keyGranularity, conf[keyGranularity])
	}
	def.Granularity = time.Duration(us) * time.Microsecond
	owner, err := strconv.ParseUint(conf[keyOwner], 10, 32)
	if err != nil || owner == 0 {
		return refuse("%s %q is not a role OID", keyOwner, conf[keyOwner])
	}
	def.Owner = uint32(owner)
	for _, k := range slices.Sorted(maps.Keys(conf)) {
		opt, ok := strings.CutPrefix(k, keyOptPrefix)
		if !ok {
			continue
		}
		o, known := catalog.LookupOption(opt)
		if !known || opt == catalog.OptClusterTable {
			return refuse("unknown table option %q", opt)
		}
		if !o.Internal {
			if err := catalog.CheckOption(opt, conf[k]); err != nil {
				return refuse("%v", err)
			}
		}
		if def.Options == nil {
			def.Options = map[string]string{}
		}
		def.Options[opt] = conf[k]
	}
	// schemaString must be what handoff writes for these columns, so other
	// readers and strata agree on the table.
	want, parts, err := store.LakeSchema(&def.Schema)
	if err != nil {
		return refuse("columns: %v", err)
	}
	got, err := lake.ParseSchema(meta.SchemaString)
	if err != nil {
		return refuse("schemaString: %v", err)
	}
	if got.String() != want.String() || !slices.Equal(meta.PartitionColumns, parts) {
		return refuse("schemaString %s partitioned by %v does not match columns %s partitioned by %v", got, meta.PartitionColumns, want, parts)
	}
	return def, conf[keyDropped] == "true", nil
}
