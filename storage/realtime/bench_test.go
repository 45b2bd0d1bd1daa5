package realtime

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/segment"
)

// benchSchema is a 12-column e-commerce event table: time, 8 strings of mixed
// cardinality, a price, a quantity and a status code.
func benchSchema() *storage.Schema {
	s := &storage.Schema{Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
	}}
	for _, name := range benchStringCols {
		s.Columns = append(s.Columns, storage.Column{Name: name.name, Type: storage.TypeString, SQLType: "text"})
	}
	s.Columns = append(s.Columns,
		storage.Column{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
		storage.Column{Name: "quantity", Type: storage.TypeInt64, SQLType: "integer"},
		storage.Column{Name: "status", Type: storage.TypeInt64, SQLType: "smallint"},
	)
	return s
}

var benchStringCols = []struct {
	name string
	card int
}{
	{"event_type", 6}, {"device", 3}, {"country", 50}, {"browser", 12},
	{"category", 200}, {"product", 20_000}, {"user_id", 200_000}, {"session_id", 1_000_000},
}

const benchBatch = 4096

// benchBatches returns nb batches of benchBatch rows, times increasing by 10 µs per
// row from t0 (1M rows span 10.5 s of one 1-hour chunk).
func benchBatches(nb int) []*storage.Columns {
	schema := benchSchema()
	rng := rand.New(rand.NewPCG(1, 1))
	pools := make([][]string, len(benchStringCols))
	for i, c := range benchStringCols {
		pools[i] = make([]string, c.card)
		for j := range pools[i] {
			pools[i][j] = fmt.Sprintf("%s-%d", c.name, j)
		}
	}
	out := make([]*storage.Columns, nb)
	t := t0
	for b := range out {
		c := storage.NewColumns(schema, benchBatch)
		c.Len = benchBatch
		for r := range benchBatch {
			t += 10
			c.Cols[0].Int64 = append(c.Cols[0].Int64, t)
			for i, p := range pools {
				// Skewed: low ids far more frequent, as real traffic.
				k := int(float64(len(p)) * rng.Float64() * rng.Float64())
				c.Cols[1+i].String = append(c.Cols[1+i].String, p[k])
			}
			c.Cols[9].Float64 = append(c.Cols[9].Float64, float64(rng.IntN(100_000))/100)
			c.Cols[10].Int64 = append(c.Cols[10].Int64, int64(1+rng.IntN(5)))
			c.Cols[11].Int64 = append(c.Cols[11].Int64, int64(200+rng.IntN(3)*100))
			if rng.IntN(50) == 0 {
				c.SetNull(4, r) // some browsers unknown
			}
		}
		out[b] = c
	}
	return out
}

// BenchmarkAppend measures Append of 4096-row batches into one head; the head is
// frozen and dropped (untimed) every 256 batches, as the persist loop would.
// "bitmaps-only" gives every value a roaring bitmap from its first row instead of
// keeping rare values in plain row lists (smallRows).
func BenchmarkAppend(b *testing.B) {
	batches := benchBatches(256) // 1M distinct rows: run with -benchtime=256x or less
	for _, tc := range []struct {
		name  string
		small int
	}{{"lists+bitmaps", smallRows}, {"bitmaps-only", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			defer func(old int) { smallRows = old }(smallRows)
			smallRows = tc.small
			h := NewHead(batches[0].Schema, hour)
			var bytesPerRow float64
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := h.Append(batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				if i%256 == 255 || i == b.N-1 {
					b.StopTimer()
					bytesPerRow = float64(h.Bytes()) / float64(h.Rows())
					if i%256 == 255 {
						h.Drop(h.Freeze())
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.N)*benchBatch/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(bytesPerRow, "bytes/row")
		})
	}
}

// BenchmarkAppendWithReader is BenchmarkAppend while another goroutine loops taking a
// Snapshot and the bitmaps of every event_type and country value: the appender then
// pays the copy-on-write of each bitmap's last container after every read.
func BenchmarkAppendWithReader(b *testing.B) {
	batches := benchBatches(64)
	schema := batches[0].Schema
	h := NewHead(schema, hour)
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		reads := 0
		for {
			select {
			case <-stop:
				done <- reads
				return
			default:
			}
			views := h.Snapshot()
			if len(views) == 0 {
				runtime.Gosched()
				continue
			}
			for _, v := range views {
				for _, col := range []int{1, 3} {
					d, _ := v.Dict(col)
					for id := range d.Len() {
						if _, err := v.Bitmap(col, uint32(id)); err != nil {
							panic(err)
						}
					}
				}
			}
			reads++
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := h.Append(batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
		if i%256 == 255 {
			b.StopTimer()
			h.Drop(h.Freeze())
			b.StartTimer()
		}
	}
	b.StopTimer()
	close(stop)
	reads := <-done
	b.ReportMetric(float64(b.N)*benchBatch/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(reads)/float64(b.N), "reads/batch")
}

// BenchmarkSnapshotBitmap measures a query's entry cost on a 1M-row head: a Snapshot,
// then one Bitmap, three ways:
//
//	cow-clone:   what View.Bitmap does (clone under the part mutex sharing containers,
//	             trim, cache)
//	deep-clone:  the same with copy-on-write off (every container copied)
//	rebuild:     a view building the bitmap itself from its prefix of dictionary ids
func BenchmarkSnapshotBitmap(b *testing.B) {
	batches := benchBatches(256)
	schema := batches[0].Schema
	h := NewHead(schema, 1000*hour) // one chunk
	for _, c := range batches {
		if err := h.Append(c); err != nil {
			b.Fatal(err)
		}
	}
	if v := h.Snapshot(); len(v) != 1 {
		b.Fatalf("%d views", len(v))
	}
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = h.Snapshot()
		}
	})
	for _, tc := range []struct {
		col  int
		rare bool
	}{{3, false}, {6, false}, {7, true}} { // country and product: a frequent value; user_id: a rare one
		col := tc.col
		v := h.Snapshot()[0]
		d, _ := v.Dict(col)
		id, _ := d.Lookup(benchStringCols[col-1].name + "-0") // skewed data: value 0 is the most frequent
		if tc.rare {
			id = uint32(d.Len() - 1)
		}
		want, _ := v.Bitmap(col, id)
		name := fmt.Sprintf("%s/card=%d/rows=%d", schema.Columns[col].Name, d.Len(), want.GetCardinality())
		b.Logf("%s: %d bytes", name, want.GetSizeInBytes())

		b.Run(name+"/cow-clone", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				v := h.Snapshot()[0]
				if _, err := v.Bitmap(col, id); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/cow-clone-cached", func(b *testing.B) {
			v := h.Snapshot()[0]
			b.ReportAllocs()
			for range b.N {
				if _, err := v.Bitmap(col, id); err != nil {
					b.Fatal(err)
				}
			}
		})
		deep := want.Clone()
		deep.SetCopyOnWrite(false)
		deep.CloneCopyOnWriteContainers()
		b.Run(name+"/deep-clone", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				v := h.Snapshot()[0]
				v.p.mu.Lock()
				bm := deep.Clone()
				v.p.mu.Unlock()
				if !bm.IsEmpty() && int(bm.Maximum()) >= v.NumRows() {
					b.Fatal("unexpected rows")
				}
			}
		})
		b.Run(name+"/rebuild", func(b *testing.B) {
			b.ReportAllocs()
			var ids []uint32
			for range b.N {
				v := h.Snapshot()[0]
				bm := roaring.New()
				n := v.NumRows()
				for lo := 0; lo < n; lo += 4096 {
					ids, _ = v.ReadDictIDs(col, lo, min(lo+4096, n), ids)
					for i, x := range ids {
						if x == id {
							bm.Add(uint32(lo + i))
						}
					}
				}
				if bm.GetCardinality() != want.GetCardinality() {
					b.Fatal("rebuild differs")
				}
			}
		})
	}
}

// BenchmarkPersist measures what a persist costs per row after the head is
// frozen: the Frozen chunk's segment written (segment.Write) from 1M appended rows
// (one part). "dict-hint" writes the chunk as Freeze gives it, with the part's
// dictionaries (storage.ColumnData.Dict, IDs); "strings" drops them, so the writer
// hashes every string value, as every persist did before session 8.
func BenchmarkPersist(b *testing.B) {
	batches := benchBatches(244) // 999,424 rows
	h := NewHead(batches[0].Schema, hour)
	for _, c := range batches {
		if err := h.Append(c); err != nil {
			b.Fatal(err)
		}
	}
	f := h.Freeze()
	if len(f.Chunks) != 1 {
		b.Fatalf("%d chunks, want 1", len(f.Chunks))
	}
	cols := f.Chunks[0].Cols
	plain := *cols
	plain.Cols = append([]storage.ColumnData(nil), cols.Cols...)
	for i := range plain.Cols {
		plain.Cols[i].Dict, plain.Cols[i].IDs = nil, nil
	}
	path := filepath.Join(b.TempDir(), "seg")
	for _, tc := range []struct {
		name string
		cols *storage.Columns
	}{{"dict-hint", cols}, {"strings", &plain}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := segment.Write(path, tc.cols); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(cols.Len), "ns/row")
		})
	}
}
