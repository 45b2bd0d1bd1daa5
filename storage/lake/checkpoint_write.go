package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// defaultTombstoneRetention is delta.deletedFileRetentionDuration's default: a
// remove stays in checkpoints (and protects its file from VACUUM) this long.
const defaultTombstoneRetention = 7 * 24 * time.Hour

var (
	strMap   = arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String)
	strList  = arrow.ListOf(arrow.BinaryTypes.String)
	dvStruct = arrow.StructOf(
		arrow.Field{Name: "storageType", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "pathOrInlineDv", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "offset", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		arrow.Field{Name: "sizeInBytes", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		arrow.Field{Name: "cardinality", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	)
	nf = func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}

	// checkpointSchema is the classic checkpoint schema ([P] "Checkpoint Schema")
	// without the optional *_parsed columns.
	checkpointSchema = arrow.NewSchema([]arrow.Field{
		nf("txn", arrow.StructOf(nf("appId", arrow.BinaryTypes.String), nf("version", arrow.PrimitiveTypes.Int64), nf("lastUpdated", arrow.PrimitiveTypes.Int64))),
		nf("add", arrow.StructOf(
			nf("path", arrow.BinaryTypes.String), nf("partitionValues", strMap), nf("size", arrow.PrimitiveTypes.Int64),
			nf("modificationTime", arrow.PrimitiveTypes.Int64), nf("dataChange", arrow.FixedWidthTypes.Boolean),
			nf("stats", arrow.BinaryTypes.String), nf("tags", strMap), nf("deletionVector", dvStruct),
			nf("baseRowId", arrow.PrimitiveTypes.Int64), nf("defaultRowCommitVersion", arrow.PrimitiveTypes.Int64))),
		nf("remove", arrow.StructOf(
			nf("path", arrow.BinaryTypes.String), nf("deletionTimestamp", arrow.PrimitiveTypes.Int64),
			nf("dataChange", arrow.FixedWidthTypes.Boolean), nf("extendedFileMetadata", arrow.FixedWidthTypes.Boolean),
			nf("partitionValues", strMap), nf("size", arrow.PrimitiveTypes.Int64), nf("deletionVector", dvStruct),
			nf("baseRowId", arrow.PrimitiveTypes.Int64))),
		nf("metaData", arrow.StructOf(
			nf("id", arrow.BinaryTypes.String), nf("name", arrow.BinaryTypes.String), nf("description", arrow.BinaryTypes.String),
			nf("format", arrow.StructOf(nf("provider", arrow.BinaryTypes.String), nf("options", strMap))),
			nf("schemaString", arrow.BinaryTypes.String), nf("partitionColumns", strList),
			nf("configuration", strMap), nf("createdTime", arrow.PrimitiveTypes.Int64))),
		nf("protocol", arrow.StructOf(
			nf("minReaderVersion", arrow.PrimitiveTypes.Int32), nf("minWriterVersion", arrow.PrimitiveTypes.Int32),
			nf("readerFeatures", strList), nf("writerFeatures", strList))),
		nf("domainMetadata", arrow.StructOf(
			nf("domain", arrow.BinaryTypes.String), nf("configuration", arrow.BinaryTypes.String), nf("removed", arrow.FixedWidthTypes.Boolean))),
	}, nil)
)

// checkpoint column indexes in checkpointSchema.
const (
	cpTxn = iota
	cpAdd
	cpRemove
	cpMeta
	cpProtocol
	cpDomain
)

// WriteCheckpoint writes the classic single-file checkpoint of snap
// (_delta_log/%020d.checkpoint.parquet: protocol, metaData, txns, domain
// metadata, live adds and removes younger than the tombstone retention, one
// action per row) and then _last_checkpoint. An existing checkpoint for the
// version is left alone (same state by definition).
func WriteCheckpoint(ctx context.Context, snap *Snapshot) error {
	t := snap.table
	wfs := t.fs
	cutoff := time.Now().Add(-defaultTombstoneRetention).UnixMilli()
	mem := memory.DefaultAllocator
	b := array.NewRecordBuilder(mem, checkpointSchema)
	defer b.Release()
	rows := int64(0)
	// nullOthers appends null to every column except keep.
	nullOthers := func(keep int) {
		for i := range checkpointSchema.Fields() {
			if i != keep {
				b.Field(i).AppendNull()
			}
		}
		rows++
	}

	// protocol
	nullOthers(cpProtocol)
	pb := b.Field(cpProtocol).(*array.StructBuilder)
	pb.Append(true)
	pb.FieldBuilder(0).(*array.Int32Builder).Append(snap.Protocol.MinReaderVersion)
	pb.FieldBuilder(1).(*array.Int32Builder).Append(snap.Protocol.MinWriterVersion)
	appendStrList(pb.FieldBuilder(2).(*array.ListBuilder), snap.Protocol.ReaderFeatures)
	appendStrList(pb.FieldBuilder(3).(*array.ListBuilder), snap.Protocol.WriterFeatures)

	// metaData
	md := snap.Metadata
	nullOthers(cpMeta)
	mb := b.Field(cpMeta).(*array.StructBuilder)
	mb.Append(true)
	mb.FieldBuilder(0).(*array.StringBuilder).Append(md.ID)
	appendOptStr(mb.FieldBuilder(1).(*array.StringBuilder), md.Name)
	appendOptStr(mb.FieldBuilder(2).(*array.StringBuilder), md.Description)
	fb := mb.FieldBuilder(3).(*array.StructBuilder)
	fb.Append(true)
	fb.FieldBuilder(0).(*array.StringBuilder).Append(md.Format.Provider)
	appendStrMap(fb.FieldBuilder(1).(*array.MapBuilder), md.Format.Options)
	mb.FieldBuilder(4).(*array.StringBuilder).Append(md.SchemaString)
	pcs := md.PartitionColumns
	if pcs == nil {
		pcs = []string{}
	}
	appendStrList(mb.FieldBuilder(5).(*array.ListBuilder), pcs)
	appendStrMap(mb.FieldBuilder(6).(*array.MapBuilder), md.Configuration)
	appendOptInt64(mb.FieldBuilder(7).(*array.Int64Builder), md.CreatedTime)

	// txn
	apps := make([]string, 0, len(snap.txns))
	for a := range snap.txns {
		apps = append(apps, a)
	}
	sort.Strings(apps)
	for _, a := range apps {
		tx := snap.txns[a]
		nullOthers(cpTxn)
		tb := b.Field(cpTxn).(*array.StructBuilder)
		tb.Append(true)
		tb.FieldBuilder(0).(*array.StringBuilder).Append(tx.AppID)
		tb.FieldBuilder(1).(*array.Int64Builder).Append(tx.Version)
		appendOptInt64(tb.FieldBuilder(2).(*array.Int64Builder), tx.LastUpdated)
	}

	// domainMetadata
	doms := snap.DomainMetadata()
	names := make([]string, 0, len(doms))
	for d := range doms {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		dm := doms[d]
		nullOthers(cpDomain)
		db := b.Field(cpDomain).(*array.StructBuilder)
		db.Append(true)
		db.FieldBuilder(0).(*array.StringBuilder).Append(dm.Domain)
		db.FieldBuilder(1).(*array.StringBuilder).Append(dm.Configuration)
		db.FieldBuilder(2).(*array.BooleanBuilder).Append(false)
	}

	// add
	numAdds := int64(0)
	for _, f := range snap.Files() {
		nullOthers(cpAdd)
		numAdds++
		ab := b.Field(cpAdd).(*array.StructBuilder)
		ab.Append(true)
		ab.FieldBuilder(0).(*array.StringBuilder).Append(f.Path)
		appendPartMap(ab.FieldBuilder(1).(*array.MapBuilder), f.PartitionValues, true)
		ab.FieldBuilder(2).(*array.Int64Builder).Append(f.Size)
		ab.FieldBuilder(3).(*array.Int64Builder).Append(f.ModificationTime)
		ab.FieldBuilder(4).(*array.BooleanBuilder).Append(false) // dataChange is meaningless in a checkpoint
		appendOptStr(ab.FieldBuilder(5).(*array.StringBuilder), f.Stats)
		appendPartMap(ab.FieldBuilder(6).(*array.MapBuilder), f.Tags, false)
		appendDV(ab.FieldBuilder(7).(*array.StructBuilder), f.DeletionVector)
		appendOptInt64(ab.FieldBuilder(8).(*array.Int64Builder), f.BaseRowID)
		appendOptInt64(ab.FieldBuilder(9).(*array.Int64Builder), f.DefaultRowCommitVersion)
	}

	// remove (tombstones still within the retention)
	for _, r := range snap.Tombstones() {
		if r.DeletionTimestamp != nil && *r.DeletionTimestamp < cutoff {
			continue
		}
		nullOthers(cpRemove)
		rb := b.Field(cpRemove).(*array.StructBuilder)
		rb.Append(true)
		rb.FieldBuilder(0).(*array.StringBuilder).Append(r.Path)
		appendOptInt64(rb.FieldBuilder(1).(*array.Int64Builder), r.DeletionTimestamp)
		rb.FieldBuilder(2).(*array.BooleanBuilder).Append(false)
		rb.FieldBuilder(3).(*array.BooleanBuilder).Append(r.ExtendedFileMetadata)
		appendPartMap(rb.FieldBuilder(4).(*array.MapBuilder), r.PartitionValues, false)
		appendOptInt64(rb.FieldBuilder(5).(*array.Int64Builder), r.Size)
		appendDV(rb.FieldBuilder(6).(*array.StructBuilder), r.DeletionVector)
		appendOptInt64(rb.FieldBuilder(7).(*array.Int64Builder), r.BaseRowID)
	}

	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithStats(true))
	pw, err := pqarrow.NewFileWriter(checkpointSchema, &buf, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return fmt.Errorf("lake: table %s: checkpoint %d: %w", t.name(), snap.Version, err)
	}
	if err := pw.Write(rec); err != nil {
		pw.Close()
		return fmt.Errorf("lake: table %s: checkpoint %d: %w", t.name(), snap.Version, err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("lake: table %s: checkpoint %d: %w", t.name(), snap.Version, err)
	}
	key := t.logPrefix() + fmt.Sprintf("%020d.checkpoint.parquet", snap.Version)
	if err := wfs.PutIfAbsent(ctx, key, buf.Bytes()); err != nil && !isExists(err) {
		return fmt.Errorf("lake: table %s: checkpoint %d: %w", t.name(), snap.Version, err)
	}
	hint, _ := json.Marshal(map[string]any{
		"version": snap.Version, "size": rows, "sizeInBytes": buf.Len(), "numOfAddFiles": numAdds,
	})
	// _last_checkpoint is a hint: never move it backwards past a newer checkpoint.
	if old := t.lastCheckpointHint(ctx); old != nil && *old.Version > snap.Version {
		return nil
	}
	if err := wfs.Put(ctx, t.logPrefix()+"_last_checkpoint", hint); err != nil {
		return fmt.Errorf("lake: table %s: _last_checkpoint: %w", t.name(), err)
	}
	return nil
}

func appendOptStr(b *array.StringBuilder, s string) {
	if s == "" {
		b.AppendNull()
	} else {
		b.Append(s)
	}
}

func appendOptInt64(b *array.Int64Builder, v *int64) {
	if v == nil {
		b.AppendNull()
	} else {
		b.Append(*v)
	}
}

// appendStrList appends a list; nil is null.
func appendStrList(b *array.ListBuilder, vs []string) {
	if vs == nil {
		b.AppendNull()
		return
	}
	b.Append(true)
	vb := b.ValueBuilder().(*array.StringBuilder)
	for _, v := range vs {
		vb.Append(v)
	}
}

func appendStrMap(b *array.MapBuilder, m map[string]string) {
	if m == nil {
		b.AppendNull()
		return
	}
	b.Append(true)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kb, ib := b.KeyBuilder().(*array.StringBuilder), b.ItemBuilder().(*array.StringBuilder)
	for _, k := range keys {
		kb.Append(k)
		ib.Append(m[k])
	}
}

// appendPartMap appends a map whose values may be null; a nil map is null
// unless emptyForNil.
func appendPartMap(b *array.MapBuilder, m map[string]*string, emptyForNil bool) {
	if m == nil && !emptyForNil {
		b.AppendNull()
		return
	}
	b.Append(true)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kb, ib := b.KeyBuilder().(*array.StringBuilder), b.ItemBuilder().(*array.StringBuilder)
	for _, k := range keys {
		kb.Append(k)
		if v := m[k]; v == nil {
			ib.AppendNull()
		} else {
			ib.Append(*v)
		}
	}
}

func appendDV(b *array.StructBuilder, dv *DeletionVector) {
	if dv == nil {
		b.AppendNull()
		return
	}
	b.Append(true)
	b.FieldBuilder(0).(*array.StringBuilder).Append(dv.StorageType)
	b.FieldBuilder(1).(*array.StringBuilder).Append(dv.PathOrInlineDv)
	ob := b.FieldBuilder(2).(*array.Int32Builder)
	if dv.Offset == nil {
		ob.AppendNull()
	} else {
		ob.Append(*dv.Offset)
	}
	b.FieldBuilder(3).(*array.Int32Builder).Append(dv.SizeInBytes)
	b.FieldBuilder(4).(*array.Int64Builder).Append(dv.Cardinality)
}
