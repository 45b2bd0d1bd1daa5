package lake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
)

// Protocol is the protocol action: the reader/writer versions and features a
// client must support.
type Protocol struct {
	MinReaderVersion int32    `json:"minReaderVersion"`
	MinWriterVersion int32    `json:"minWriterVersion"`
	ReaderFeatures   []string `json:"readerFeatures,omitempty"`
	WriterFeatures   []string `json:"writerFeatures,omitempty"`
}

// Format is metaData.format.
type Format struct {
	Provider string            `json:"provider"`
	Options  map[string]string `json:"options,omitempty"`
}

// Metadata is the metaData action. A later metaData replaces the whole previous one.
type Metadata struct {
	ID               string            `json:"id"`
	Name             string            `json:"name,omitempty"`
	Description      string            `json:"description,omitempty"`
	Format           Format            `json:"format"`
	SchemaString     string            `json:"schemaString"`
	PartitionColumns []string          `json:"partitionColumns"`
	Configuration    map[string]string `json:"configuration"`
	CreatedTime      *int64            `json:"createdTime,omitempty"`
}

// DeletionVector is the descriptor of a deletion vector ([P] "Deletion Vectors").
type DeletionVector struct {
	StorageType    string `json:"storageType"` // "u" relative, "p" absolute path, "i" inline
	PathOrInlineDv string `json:"pathOrInlineDv"`
	Offset         *int32 `json:"offset,omitempty"`
	SizeInBytes    int32  `json:"sizeInBytes"`
	Cardinality    int64  `json:"cardinality"`
}

// UniqueID is storageType + pathOrInlineDv [+ "@" + offset], the DV part of the key
// files reconcile by.
func (dv *DeletionVector) UniqueID() string {
	if dv == nil {
		return ""
	}
	id := dv.StorageType + dv.PathOrInlineDv
	if dv.Offset != nil {
		id += "@" + strconv.Itoa(int(*dv.Offset))
	}
	return id
}

// AddFile is the add action. Path is as written in the log (URI-encoded); Key is
// set by the log reader to the decoded path, decoded exactly once.
type AddFile struct {
	Path                    string             `json:"path"`
	PartitionValues         map[string]*string `json:"partitionValues"`
	Size                    int64              `json:"size"`
	ModificationTime        int64              `json:"modificationTime"`
	DataChange              bool               `json:"dataChange"`
	Stats                   string             `json:"stats,omitempty"`
	Tags                    map[string]*string `json:"tags,omitempty"`
	DeletionVector          *DeletionVector    `json:"deletionVector,omitempty"`
	BaseRowID               *int64             `json:"baseRowId,omitempty"`
	DefaultRowCommitVersion *int64             `json:"defaultRowCommitVersion,omitempty"`
	ClusteringProvider      string             `json:"clusteringProvider,omitempty"`

	// DecodedPath is Path URL-decoded once: a key relative to the table root, or an
	// absolute URI when IsAbsolute.
	DecodedPath string `json:"-"`
	IsAbsolute  bool   `json:"-"`
}

// RemoveFile is the remove action (a tombstone once replayed).
type RemoveFile struct {
	Path                 string             `json:"path"`
	DeletionTimestamp    *int64             `json:"deletionTimestamp,omitempty"`
	DataChange           bool               `json:"dataChange"`
	ExtendedFileMetadata bool               `json:"extendedFileMetadata,omitempty"`
	PartitionValues      map[string]*string `json:"partitionValues,omitempty"`
	Size                 *int64             `json:"size,omitempty"`
	Stats                string             `json:"stats,omitempty"`
	Tags                 map[string]*string `json:"tags,omitempty"`
	DeletionVector       *DeletionVector    `json:"deletionVector,omitempty"`
	BaseRowID            *int64             `json:"baseRowId,omitempty"`

	DecodedPath string `json:"-"`
	IsAbsolute  bool   `json:"-"`
}

// Txn is the txn (SetTransaction) action.
type Txn struct {
	AppID       string `json:"appId"`
	Version     int64  `json:"version"`
	LastUpdated *int64 `json:"lastUpdated,omitempty"`
}

// DomainMetadata is the domainMetadata action.
type DomainMetadata struct {
	Domain        string `json:"domain"`
	Configuration string `json:"configuration"`
	Removed       bool   `json:"removed"`
}

// CheckpointMetadata is the checkpointMetadata action of a v2 checkpoint.
type CheckpointMetadata struct {
	Version int64              `json:"version"`
	Tags    map[string]*string `json:"tags,omitempty"`
}

// Sidecar is the sidecar action of a v2 checkpoint: a Parquet file of add/remove
// actions in _delta_log/_sidecars.
type Sidecar struct {
	Path             string             `json:"path"`
	SizeInBytes      int64              `json:"sizeInBytes"`
	ModificationTime int64              `json:"modificationTime"`
	Tags             map[string]*string `json:"tags,omitempty"`
}

// CommitInfo keeps the few commitInfo fields the reader uses; Raw is the whole
// object. commitInfo is free-form, so bad field types are ignored, not errors.
type CommitInfo struct {
	Timestamp         *int64
	InCommitTimestamp *int64
	Operation         string
	Raw               json.RawMessage
}

// Actions is the content of one commit file or checkpoint, grouped by kind in file
// order.
type Actions struct {
	Protocol           *Protocol
	Metadata           *Metadata
	Adds               []*AddFile
	Removes            []*RemoveFile
	Txns               []Txn
	Domains            []DomainMetadata
	CommitInfo         *CommitInfo
	CheckpointMetadata *CheckpointMetadata
	Sidecars           []Sidecar
}

// ParseCommit parses newline-delimited JSON actions (a commit file, or a JSON v2
// checkpoint). Unknown action kinds and unknown fields are ignored; blank lines are
// skipped. It never panics on any input.
func ParseCommit(data []byte) (*Actions, error) {
	a := &Actions{}
	line := 0
	for len(data) > 0 {
		line++
		var ln []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			ln, data = data[:i], data[i+1:]
		} else {
			ln, data = data, nil
		}
		ln = bytes.TrimSpace(ln)
		if len(ln) == 0 {
			continue
		}
		if err := a.parseLine(ln); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
	}
	return a, nil
}

func (a *Actions) parseLine(ln []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(ln, &obj); err != nil {
		return err
	}
	for kind, raw := range obj {
		if isJSONNull(raw) {
			continue
		}
		if err := a.parseAction(kind, raw); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
	}
	return nil
}

func isJSONNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func (a *Actions) parseAction(kind string, raw json.RawMessage) error {
	switch kind {
	case "protocol":
		var p Protocol
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		if a.Protocol != nil {
			return fmt.Errorf("two protocol actions")
		}
		a.Protocol = &p
	case "metaData":
		var m Metadata
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if a.Metadata != nil {
			return fmt.Errorf("two metaData actions")
		}
		a.Metadata = &m
	case "add":
		var f AddFile
		if err := json.Unmarshal(raw, &f); err != nil {
			return err
		}
		var err error
		if f.DecodedPath, f.IsAbsolute, err = decodePath(f.Path); err != nil {
			return err
		}
		a.Adds = append(a.Adds, &f)
	case "remove":
		var f RemoveFile
		if err := json.Unmarshal(raw, &f); err != nil {
			return err
		}
		var err error
		if f.DecodedPath, f.IsAbsolute, err = decodePath(f.Path); err != nil {
			return err
		}
		a.Removes = append(a.Removes, &f)
	case "txn":
		var t Txn
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		a.Txns = append(a.Txns, t)
	case "domainMetadata":
		var d DomainMetadata
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		a.Domains = append(a.Domains, d)
	case "checkpointMetadata":
		var c CheckpointMetadata
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		a.CheckpointMetadata = &c
	case "sidecar":
		var s Sidecar
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		a.Sidecars = append(a.Sidecars, s)
	case "commitInfo":
		ci := &CommitInfo{Raw: append(json.RawMessage(nil), raw...)}
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) == nil {
			var n int64
			if json.Unmarshal(fields["timestamp"], &n) == nil {
				ci.Timestamp = &n
			}
			var ict int64
			if json.Unmarshal(fields["inCommitTimestamp"], &ict) == nil {
				ci.InCommitTimestamp = &ict
			}
			_ = json.Unmarshal(fields["operation"], &ci.Operation)
		}
		a.CommitInfo = ci
	default:
		// cdc and anything newer: ignored by a snapshot reader ([P] "Protocol Evolution").
	}
	return nil
}

// decodePath URL-decodes an add/remove path exactly once. A path with a URI scheme
// ("s3://…", "file:/…") is absolute; anything else is relative to the table root.
func decodePath(p string) (decoded string, absolute bool, err error) {
	if p == "" {
		return "", false, fmt.Errorf("empty path")
	}
	if hasScheme(p) {
		u, err := url.Parse(p)
		if err != nil {
			return "", false, fmt.Errorf("path %q: %w", p, err)
		}
		return u.String(), true, nil
	}
	d, err := url.PathUnescape(p)
	if err != nil {
		return "", false, fmt.Errorf("path %q: %w", p, err)
	}
	return d, false, nil
}

// hasScheme reports whether p starts with "scheme:" followed by '/', RFC 3986's
// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func hasScheme(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i+1 < len(p) && p[i+1] == '/'
		default:
			return false
		}
	}
	return false
}

// Stats is the parsed per-file statistics ([P] "Per-file Statistics"). Values stay
// raw JSON: they mirror the schema, keyed by physical names.
type Stats struct {
	NumRecords  *int64                     `json:"numRecords"`
	MinValues   map[string]json.RawMessage `json:"minValues,omitempty"`
	MaxValues   map[string]json.RawMessage `json:"maxValues,omitempty"`
	NullCount   map[string]json.RawMessage `json:"nullCount,omitempty"`
	TightBounds *bool                      `json:"tightBounds,omitempty"`
}

// ParseStats parses an add's stats string; "" yields nil, nil.
func ParseStats(s string) (*Stats, error) {
	if s == "" {
		return nil, nil
	}
	var st Stats
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return &st, nil
}

// ParsedStats parses the file's stats; nil, nil when it has none.
func (f *AddFile) ParsedStats() (*Stats, error) { return ParseStats(f.Stats) }
