package lake

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnsupported marks a table this reader refuses because the protocol asks for
// something it does not implement. Such a table is never read partially.
var ErrUnsupported = errors.New("unsupported")

func isUnsupported(err error) bool { return errors.Is(err, ErrUnsupported) }

// supportedReaderFeatures are the table features this reader implements.
// vacuumProtocolCheck asks nothing of a reader; typeWidening is served by the
// widening conversions in scan.go (unsupported combinations fail loudly there).
var supportedReaderFeatures = map[string]bool{
	"columnMapping":        true,
	"deletionVectors":      true,
	"timestampNtz":         true,
	"v2Checkpoint":         true,
	"vacuumProtocolCheck":  true,
	"typeWidening":         true,
	"typeWidening-preview": true,
}

type fileKey struct{ path, dv string }

// Snapshot is the state of a table at one version. It is immutable once returned
// and safe for concurrent use.
type Snapshot struct {
	table *Table

	Version int64
	// CheckpointVersion is the checkpoint the replay started from, -1 for none.
	CheckpointVersion int64
	Protocol          Protocol
	Metadata          Metadata
	// Schema is the parsed metaData.schemaString (logical names).
	Schema *DataType
	// ColumnMapping is "none", "name" or "id".
	ColumnMapping string

	live       map[fileKey]*AddFile
	tombstones map[fileKey]*RemoveFile
	txns       map[string]Txn
	domains    map[string]DomainMetadata
	files      []*AddFile // live, sorted by path; set by finish
}

func newSnapshot(t *Table) *Snapshot {
	return &Snapshot{
		table: t, Version: -1, CheckpointVersion: -1,
		live:       map[fileKey]*AddFile{},
		tombstones: map[fileKey]*RemoveFile{},
		txns:       map[string]Txn{},
		domains:    map[string]DomainMetadata{},
	}
}

// apply replays one commit (or a checkpoint): protocol and metaData replace,
// removes before adds, newest reference per (path, DV id) wins.
func (s *Snapshot) apply(a *Actions) error {
	if a.Protocol != nil {
		// Checked in finish, at the target version only: a feature may be added and
		// dropped again (DROP FEATURE) between the checkpoint and the target.
		s.Protocol = *a.Protocol
	}
	if a.Metadata != nil {
		s.Metadata = *a.Metadata
	}
	for _, r := range a.Removes {
		k := fileKey{r.DecodedPath, r.DeletionVector.UniqueID()}
		delete(s.live, k)
		s.tombstones[k] = r
	}
	for _, f := range a.Adds {
		k := fileKey{f.DecodedPath, f.DeletionVector.UniqueID()}
		delete(s.tombstones, k)
		s.live[k] = f
	}
	for _, t := range a.Txns {
		s.txns[t.AppID] = t
	}
	for _, d := range a.Domains {
		if d.Removed {
			delete(s.domains, d.Domain)
		} else {
			s.domains[d.Domain] = d
		}
	}
	return nil
}

// unsupportedError is an error that matches ErrUnsupported without adding text.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string        { return e.msg }
func (e *unsupportedError) Is(target error) bool { return target == ErrUnsupported }

func (s *Snapshot) unsupported(format string, args ...any) error {
	return &unsupportedError{fmt.Sprintf("lake: table %s requires %s", s.table.name(), fmt.Sprintf(format, args...))}
}

// checkProtocol refuses reader versions above 3 and any reader feature not in
// supportedReaderFeatures.
func (s *Snapshot) checkProtocol() error {
	p := s.Protocol
	if p.MinReaderVersion > 3 || p.MinReaderVersion < 1 {
		return s.unsupported("unsupported reader version %d", p.MinReaderVersion)
	}
	if p.MinReaderVersion == 3 {
		for _, f := range p.ReaderFeatures {
			if !supportedReaderFeatures[f] {
				return s.unsupported("unsupported reader feature %q", f)
			}
		}
	}
	return nil
}

// finish validates the replayed state and derives the schema and file list.
func (s *Snapshot) finish() error {
	name := s.table.name()
	if s.Protocol.MinReaderVersion == 0 {
		return fmt.Errorf("lake: table %s: version %d has no protocol action", name, s.Version)
	}
	if s.Metadata.SchemaString == "" {
		return fmt.Errorf("lake: table %s: version %d has no metaData action", name, s.Version)
	}
	if err := s.checkProtocol(); err != nil {
		return err
	}
	if p := s.Metadata.Format.Provider; p != "" && p != "parquet" {
		return s.unsupported("unsupported file format %q", p)
	}
	schema, err := ParseSchema(s.Metadata.SchemaString)
	if err != nil {
		return fmt.Errorf("lake: table %s: %w", name, err)
	}
	s.Schema = schema
	s.ColumnMapping = MappingNone
	if m, ok := s.Metadata.Configuration["delta.columnMapping.mode"]; ok {
		switch m {
		case MappingNone, MappingName, MappingID:
			s.ColumnMapping = m
		default:
			return s.unsupported("unsupported column mapping mode %q", m)
		}
	}
	if s.ColumnMapping != MappingNone && s.Protocol.MinReaderVersion < 2 {
		return fmt.Errorf("lake: table %s: column mapping mode %q with reader version %d", name, s.ColumnMapping, s.Protocol.MinReaderVersion)
	}
	for _, pc := range s.Metadata.PartitionColumns {
		if s.field(pc) == nil {
			return fmt.Errorf("lake: table %s: partition column %q is not in the schema", name, pc)
		}
	}
	s.files = make([]*AddFile, 0, len(s.live))
	for _, f := range s.live {
		s.files = append(s.files, f)
	}
	sort.Slice(s.files, func(i, j int) bool {
		if s.files[i].DecodedPath != s.files[j].DecodedPath {
			return s.files[i].DecodedPath < s.files[j].DecodedPath
		}
		return s.files[i].DeletionVector.UniqueID() < s.files[j].DeletionVector.UniqueID()
	})
	return nil
}

// field returns the top-level schema field with the logical name (case-insensitive).
func (s *Snapshot) field(name string) *Field {
	for i := range s.Schema.Fields {
		if strings.EqualFold(s.Schema.Fields[i].Name, name) {
			return &s.Schema.Fields[i]
		}
	}
	return nil
}

// Files returns the live data files, sorted by decoded path. The slice and the
// files are shared: callers must not modify them.
func (s *Snapshot) Files() []*AddFile { return s.files }

// Tombstones returns the remove actions still in the state (for VACUUM).
func (s *Snapshot) Tombstones() []*RemoveFile {
	out := make([]*RemoveFile, 0, len(s.tombstones))
	for _, r := range s.tombstones {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DecodedPath < out[j].DecodedPath })
	return out
}

// TxnVersion returns the latest txn version recorded for appID.
func (s *Snapshot) TxnVersion(appID string) (int64, bool) {
	t, ok := s.txns[appID]
	return t.Version, ok
}

// DomainMetadata returns the live domain metadata by domain.
func (s *Snapshot) DomainMetadata() map[string]DomainMetadata {
	out := make(map[string]DomainMetadata, len(s.domains))
	for k, v := range s.domains {
		out[k] = v
	}
	return out
}

// PartitionColumns returns the logical partition column names.
func (s *Snapshot) PartitionColumns() []string { return s.Metadata.PartitionColumns }

// PartitionValue returns the raw partition value of a file for a logical partition
// column: partitionValues are keyed by physical name under column mapping. ok is
// false for null ("" or JSON null).
func (s *Snapshot) PartitionValue(f *AddFile, column string) (value string, ok bool) {
	fd := s.field(column)
	if fd == nil {
		return "", false
	}
	p, present := f.PartitionValues[fd.PhysicalName(s.ColumnMapping)]
	if !present && s.ColumnMapping == MappingNone {
		// Keys are case-insensitive in practice (Spark lower-cases nothing, but be lenient).
		for k, v := range f.PartitionValues {
			if strings.EqualFold(k, fd.Name) {
				p, present = v, true
			}
		}
	}
	if !present || p == nil || *p == "" {
		return "", false
	}
	return *p, true
}

// PartitionValues returns a file's partition values by logical column name, typed
// by ParsePartitionValue; nil stands for null.
func (s *Snapshot) PartitionValues(f *AddFile) (map[string]any, error) {
	out := make(map[string]any, len(s.Metadata.PartitionColumns))
	for _, c := range s.Metadata.PartitionColumns {
		fd := s.field(c)
		v, ok := s.PartitionValue(f, c)
		if !ok {
			out[fd.Name] = nil
			continue
		}
		tv, err := ParsePartitionValue(fd.Type, v)
		if err != nil {
			return nil, fmt.Errorf("lake: table %s: file %s: partition %s: %w", s.table.name(), f.DecodedPath, c, err)
		}
		out[fd.Name] = tv
	}
	return out, nil
}

// PhysicalName is the name a logical column has in data files, partitionValues
// and stats (differs under column mapping); "" if there is no such column.
func (s *Snapshot) PhysicalName(column string) string {
	if fd := s.field(column); fd != nil {
		return fd.PhysicalName(s.ColumnMapping)
	}
	return ""
}

// ColumnStats returns the raw JSON min, max and null count of a top-level logical
// column in a file's stats; ok is false when the file has no stats for it.
func (s *Snapshot) ColumnStats(f *AddFile, column string) (min, max json.RawMessage, nullCount int64, ok bool) {
	st, err := f.ParsedStats()
	if err != nil || st == nil {
		return nil, nil, 0, false
	}
	pn := s.PhysicalName(column)
	min, max = st.MinValues[pn], st.MaxValues[pn]
	nc, hasNC := st.NullCount[pn]
	if hasNC && json.Unmarshal(nc, &nullCount) != nil {
		hasNC = false
	}
	if !hasNC {
		nullCount = -1
	}
	return min, max, nullCount, min != nil || max != nil || hasNC
}
