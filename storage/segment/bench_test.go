package segment

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/stratadb/strata/storage"
)

const benchRows = 1 << 20

var benchData = sync.OnceValues(func() (*storage.Columns, int64) {
	c := genColumns(rand.New(rand.NewPCG(11, 11)), genOpts{n: benchRows, sorted: true, nullProb: 0.01, distinct: 100})
	// Logical input size, for MB/s: 8 bytes per int64/float64, 1 per bool, string bytes.
	var size int64
	for col, sc := range c.Schema.Columns {
		switch sc.Type {
		case storage.TypeTimestamp, storage.TypeInt64, storage.TypeFloat64:
			size += 8 * int64(c.Len)
		case storage.TypeBool:
			size += int64(c.Len)
		case storage.TypeString:
			for _, s := range c.Cols[col].String {
				size += int64(len(s))
			}
		}
	}
	return c, size
})

var benchFile = sync.OnceValue(func() string {
	c, _ := benchData()
	path := filepath.Join(benchDir(), "bench-segment")
	if _, err := Write(path, c); err != nil {
		panic(err)
	}
	return path
})

var benchDir = sync.OnceValue(func() string {
	dir, err := osMkdirTemp()
	if err != nil {
		panic(err)
	}
	return dir
})

func BenchmarkWrite(b *testing.B) {
	c, size := benchData()
	path := filepath.Join(b.TempDir(), "seg")
	b.SetBytes(size)
	b.ReportAllocs()
	var info Info
	for b.Loop() {
		var err error
		if info, err = Write(path, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(info.Bytes), "file-bytes")
}

// BenchmarkReadInt64 scans the int64 column "bytes" in 65536-row ranges. warm reads
// from the decoded-block cache (the steady state); cold opens the file each time so
// every block is checked, decompressed and decoded.
func BenchmarkReadInt64(b *testing.B) {
	for _, mode := range []string{"warm", "cold"} {
		b.Run(mode, func(b *testing.B) {
			r, err := Open(benchFile())
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]int64, 0, BlockRows)
			b.SetBytes(8 * benchRows)
			b.ReportAllocs()
			for b.Loop() {
				if mode == "cold" {
					r.Close()
					if r, err = Open(benchFile()); err != nil {
						b.Fatal(err)
					}
				}
				for start := 0; start < benchRows; start += BlockRows {
					if dst, err = r.ReadInt64(2, start, start+BlockRows, dst); err != nil {
						b.Fatal(err)
					}
				}
			}
			r.Close()
		})
	}
}

// BenchmarkReadDictIDs scans the string column "host" (100 values) in 4096-row ranges.
func BenchmarkReadDictIDs(b *testing.B) {
	for _, mode := range []string{"warm", "cold"} {
		b.Run(mode, func(b *testing.B) {
			r, err := Open(benchFile())
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]uint32, 0, 4096)
			b.SetBytes(4 * benchRows)
			b.ReportAllocs()
			for b.Loop() {
				if mode == "cold" {
					r.Close()
					if r, err = Open(benchFile()); err != nil {
						b.Fatal(err)
					}
				}
				for start := 0; start < benchRows; start += 4096 {
					if dst, err = r.ReadDictIDs(0, start, start+4096, dst); err != nil {
						b.Fatal(err)
					}
				}
			}
			r.Close()
		})
	}
}

// BenchmarkBitmapFilter answers host = 'host-00042' AND region = 'eu' by ANDing two
// cached value bitmaps (~10k and ~350k rows of 1M).
func BenchmarkBitmapFilter(b *testing.B) {
	r, err := Open(benchFile())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	host, _ := r.Dict(0)
	region, _ := r.Dict(5)
	hid, ok1 := host.Lookup("host-00042")
	rid, ok2 := region.Lookup("eu")
	if !ok1 || !ok2 {
		b.Fatal("lookup failed")
	}
	hb, err := r.Bitmap(0, hid)
	if err != nil {
		b.Fatal(err)
	}
	rb, err := r.Bitmap(5, rid)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchRows / 8) // as if scanning a plain bitset of every row
	b.ReportAllocs()
	var card uint64
	for b.Loop() {
		card = roaring.And(hb, rb).GetCardinality()
	}
	b.ReportMetric(float64(card), "rows")
}

// BenchmarkCodecDecode compares s2 and zstd decompression of one int64 and one
// float64 block as the writer lays them out; it is why blocks use s2.
func BenchmarkCodecDecode(b *testing.B) {
	c, _ := benchData()
	sw := &segmentWriter{}
	intRaw := sw.appendInt64Block(nil, c.Cols[2].Int64[:BlockRows], false)
	var floatRaw []byte
	for _, f := range c.Cols[3].Float64[:BlockRows] {
		floatRaw = binary.LittleEndian.AppendUint64(floatRaw, math.Float64bits(f))
	}
	timeRaw := sw.appendInt64Block(nil, c.Cols[1].Int64[:BlockRows], true)
	// Random test data leaves nothing for a codec after bit-packing; runs of a few
	// repeated values (status codes, sensor ids) are where blocks do compress.
	runs := make([]int64, BlockRows)
	for i := range runs {
		runs[i] = int64((i/100)%8) * 1000
	}
	runsRaw := sw.appendInt64Block(nil, runs, false)
	rng := rand.New(rand.NewPCG(5, 5))
	// Prices from a small set: float64 bit patterns repeat.
	var pricesRaw []byte
	for range BlockRows {
		p := float64(rng.IntN(50)*25+999) / 100
		pricesRaw = binary.LittleEndian.AppendUint64(pricesRaw, math.Float64bits(p))
	}
	// Dictionary ids (20 values, width 5) in runs of 1..50 rows, as a string column of
	// hosts sorted by time tends to be.
	ids := make([]uint64, 0, BlockRows)
	for len(ids) < BlockRows {
		id, n := rng.Uint64N(20), 1+rng.IntN(50)
		for range min(n, BlockRows-len(ids)) {
			ids = append(ids, id)
		}
	}
	idsRaw := appendPacked([]byte{5}, ids, 5)
	// Byte counters: a heavy-tailed positive int64.
	counters := make([]int64, BlockRows)
	for i := range counters {
		counters[i] = int64(rng.ExpFloat64() * 2000)
	}
	countersRaw := sw.appendInt64Block(nil, counters, false)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	defer dec.Close()
	for _, blk := range []struct {
		name string
		raw  []byte
	}{{"int64", intRaw}, {"float64", floatRaw}, {"time", timeRaw}, {"runs", runsRaw},
		{"prices", pricesRaw}, {"idruns", idsRaw}, {"counters", countersRaw}} {
		s2c := s2.Encode(nil, blk.raw)
		zc := enc.EncodeAll(blk.raw, nil)
		out := make([]byte, len(blk.raw))
		b.Run(blk.name+"/s2", func(b *testing.B) {
			b.SetBytes(int64(len(blk.raw)))
			for b.Loop() {
				if _, err := s2.Decode(out, s2c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(s2c))/float64(len(blk.raw)), "ratio")
		})
		b.Run(blk.name+"/zstd", func(b *testing.B) {
			b.SetBytes(int64(len(blk.raw)))
			for b.Loop() {
				if _, err := dec.DecodeAll(zc, out[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(zc))/float64(len(blk.raw)), "ratio")
		})
	}
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "segment-bench-") }
