package segment

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage"
)

// FuzzOpen mutates valid segment files, opens them and reads every column,
// dictionary, bitmap and null bitmap: any outcome but a panic is fine, and every
// error must wrap storage.ErrCorrupt and name the file.
func FuzzOpen(f *testing.F) {
	for i, o := range []genOpts{
		{n: 0},
		{n: 1},
		{n: 50, nullProb: 0.2, allNull: true},
		{n: 100, sorted: true, extreme: true},
		{n: 200, nullProb: 0.1, distinct: 30},
	} {
		path := filepath.Join(f.TempDir(), "seed")
		if _, err := Write(path, genColumns(rand.New(rand.NewPCG(uint64(i), 5)), o)); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	v1, err := os.ReadFile(filepath.Join("testdata", "v1.seg")) // a file without column sums
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1)
	path := filepath.Join(f.TempDir(), "fuzz-segment")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err == nil {
			err = readAll(r)
			for col := range r.Schema().Columns {
				_ = r.Stats(col)
				_, _ = r.ColumnSum(col)
			}
			r.Close()
		}
		if err != nil && (!errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), path)) {
			t.Fatalf("error %q does not wrap ErrCorrupt or name the file", err)
		}
	})
}

// FuzzDecode feeds arbitrary bytes to the decoders that sit behind the CRCs (which
// FuzzOpen's mutations rarely get past): block bodies, roaring bitmaps,
// dictionaries and the directory. They must return errors, never panic.
func FuzzDecode(f *testing.F) {
	sw := &segmentWriter{}
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]int64, 100)
	for i := range vals {
		vals[i] = int64(i*1000) + rng.Int64N(500)
	}
	f.Add(byte(0), uint16(100), uint16(0), sw.appendInt64Block(nil, vals, false))
	f.Add(byte(0), uint16(100), uint16(0), sw.appendInt64Block(nil, vals, true))
	f.Add(byte(1), uint16(3), uint16(0), make([]byte, 24))
	f.Add(byte(2), uint16(9), uint16(0), []byte{0xff, 0x01})
	f.Add(byte(3), uint16(4), uint16(5), append([]byte{3}, appendPacked(nil, []uint64{0, 4, 2, 1}, 3)...))
	f.Add(byte(4), uint16(100), uint16(0), []byte{0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0x10, 0, 0, 0, 1, 0, 5, 0, 9, 0})
	f.Add(byte(5), uint16(2), uint16(2), []byte{0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c',
		8, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0})
	path := filepath.Join(f.TempDir(), "seed")
	if _, err := Write(path, genColumns(rand.New(rand.NewPCG(8, 8)), genOpts{n: 200, nullProb: 0.1})); err != nil {
		f.Fatal(err)
	}
	good, err := Open(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(byte(6), uint16(0), uint16(0), append([]byte(nil), good.data[good.dirOff:len(good.data)-footerLen-crcLen]...))
	good.Close()

	f.Fuzz(func(t *testing.T, kind byte, n, dictLen uint16, raw []byte) {
		r := &Reader{path: "fuzz", data: make([]byte, 4096), dirOff: 4000, version: Version}
		c := &column{name: "c", typ: storage.TypeString, dictLen: int(dictLen)}
		var err error
		switch kind % 7 {
		case 0:
			var out []int64
			if out, err = decodeInt64Block(raw, int(n)); err == nil && len(out) != int(n) {
				t.Fatalf("decoded %d values, want %d", len(out), n)
			}
		case 1:
			_, err = decodeFloat64Block(raw, int(n))
		case 2:
			_, err = decodeBoolBlock(raw, int(n))
		case 3:
			var out []uint32
			if out, err = decodeIDBlock(raw, int(n), int(dictLen)); err == nil {
				for _, id := range out {
					if dictLen > 0 && id >= uint32(dictLen) {
						t.Fatalf("id %d accepted for a dictionary of %d", id, dictLen)
					}
				}
			}
		case 4:
			_, err = decodeBitmap(raw, uint64(n))
		case 5:
			var d *dictionary
			if d, err = r.decodeDictionary(raw, c); err == nil {
				for id := range d.Len() {
					if got, ok := d.Lookup(d.Value(uint32(id))); !ok || got != uint32(id) {
						t.Fatalf("Lookup(Value(%d)) = %d, %v", id, got, ok)
					}
				}
			}
		case 6:
			err = r.parseDirectory(raw)
		}
		_ = err
	})
}
