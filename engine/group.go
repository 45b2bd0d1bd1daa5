package engine

import (
	"encoding/binary"
	"math"
)

// groupTable maps group keys to dense group ids 0..ngroups-1 and keeps one row of
// key values per group (text decoded to plain strings, paid once per group).
//
// A table built with byID (one per source, during partial aggregation) keys
// dictionary text by dictionary id instead of by value: ids of one dictionary are
// exact, and a key seen through two different dictionaries merely yields two partial
// groups that the final merge, which keys by value, folds together. By id, a single
// dictionary key goes through dense (an id-indexed array) and several dictionary keys
// through packed (their ids packed into one integer, packed.go); a packed table keeps
// its key rows implicit until materialize.
type groupTable struct {
	types   []Type
	byID    bool
	mem     *memTracker
	ngroups int
	keys    []*vec

	m   map[string]int32
	buf []byte

	sm    *strTable // single text key (by value): group ids, strings in keys[0].s
	nullG int32     // group of the NULL key for the single-key paths; -1 none

	pending int64 // bytes not yet charged to mem

	dense   []int32  // single dictionary key, byID: dictionary id → group, -1 none
	denseOf []string // the dictionary dense refers to
	dictOf  [][]string

	packed *packedKeys // several dictionary keys, byID (packed.go)

	fm *fixedTable // one or two fixed-width keys (findFixed)
}

// fixedKey is a group key of one or two fixed-width values: integers, floats
// (canonical bits), booleans or, by id, dictionary text; null has bit c set for a
// NULL in key column c.
type fixedKey struct {
	a, b uint64
	null uint8
}

func newGroupTable(types []Type, byID bool) *groupTable {
	g := &groupTable{types: types, byID: byID, nullG: -1, m: make(map[string]int32)}
	g.keys = make([]*vec, len(types))
	for i, t := range types {
		g.keys[i] = &vec{t: t}
	}
	g.dictOf = make([][]string, len(types))
	if len(types) == 0 {
		g.ngroups = 1 // the single group of an aggregate without GROUP BY
	}
	if len(types) == 1 && kindOf(types[0]) == kText {
		g.sm = newStrTable(0)
	}
	return g
}

// groupBytes estimates the fixed memory one group costs in the table.
func (g *groupTable) groupBytes() int64 { return 48 + 16*int64(len(g.types)) }

// chargeBatch is how many bytes a table accumulates before charging the tracker
// (one atomic add per group would contend between workers).
const chargeBatch = 64 << 10

func (g *groupTable) charge(n int64) error {
	g.pending += n
	if g.pending >= chargeBatch && g.mem != nil {
		n, g.pending = g.pending, 0
		return g.mem.grow(n)
	}
	return nil
}

func (g *groupTable) newGroup(cols []*vec, row int) (int32, error) {
	id := int32(g.ngroups)
	g.ngroups++
	extra := g.groupBytes()
	for c, k := range g.keys {
		src := cols[c]
		if k.isDict && !(src.isDict && sameDict(k.dict, src.dict)) {
			*k = *k.plain() // keys of another dictionary follow: keep values instead
		}
		k.appendRow(src, row)
		if kindOf(k.t) == kText && !k.isDict && !src.isNull(row) {
			extra += int64(len(k.s[len(k.s)-1]))
		}
	}
	return id, g.charge(extra)
}

func sameDict(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// find sets gids[i] to the group of row i of the key columns, adding new groups.
func (g *groupTable) find(cols []*vec, n int, gids []int32) error {
	if len(g.types) == 0 {
		for i := range gids[:n] {
			gids[i] = 0
		}
		return nil
	}
	if g.byID && len(cols) >= 2 {
		if g.packed != nil {
			if g.packed.fits(cols) {
				return g.findPacked(cols, n, gids)
			}
			if err := g.unpack(); err != nil {
				return err
			}
		} else if g.ngroups == 0 && len(g.m) == 0 && allDict(cols) {
			ok, err := g.startPacked(cols)
			if err != nil {
				return err
			}
			if ok {
				return g.findPacked(cols, n, gids)
			}
		}
	}
	if len(cols) == 1 {
		c := cols[0]
		if g.byID && c.isDict && (g.denseOf == nil && g.ngroups == 0 || g.denseOf != nil && sameDict(g.denseOf, c.dict)) {
			return g.findDense(c, n, gids)
		}
		if k := kindOf(c.t); (k == kInt || k == kFloat || k == kBool) && c.nx == nil {
			if ok, err := g.findFixed(cols, n, gids); ok || err != nil {
				return err
			}
		}
		// By id, plain text (say a function of a dictionary column) still keys by
		// value: a key also met by id merely makes a second partial group.
		if g.sm != nil && (!g.byID || !c.isDict) {
			return g.findText(c, n, gids)
		}
	}
	if len(cols) == 2 {
		if ok, err := g.findFixed(cols, n, gids); ok || err != nil {
			return err
		}
	}
	return g.findEncoded(cols, n, gids)
}

// floatKey returns the bits a float groups by: -0 groups with 0, and all NaNs as one.
func floatKey(f float64) uint64 {
	if f == 0 {
		return 0
	}
	if f != f {
		return 0x7ff8000000000001
	}
	return math.Float64bits(f)
}

// fixedWord returns the key word of non-NULL row i of v: an integer, a float's
// floatKey, a boolean as 0/1 or, for dictionary text, the id (findFixed has checked
// that v qualifies).
func fixedWord(v *vec, i int) uint64 {
	switch kindOf(v.t) {
	case kInt:
		return uint64(v.i[i])
	case kFloat:
		return floatKey(v.f[i])
	case kBool:
		if v.b[i] {
			return 1
		}
		return 0
	}
	return uint64(v.ids[i])
}

// findFixed groups by one or two fixed-width keys through one hash table of fixedKey
// (fixedTable), with no key encoding per row; consecutive rows with the previous row's key reuse its group
// (time-ordered data repeats keys such as a time bucket). It reports false, having
// done nothing, when a key column does not qualify (see fixedWord). In a byID table a
// key may then be found through both this map and the encoded one: as with two
// dictionaries, the final merge, which keys by value, folds such partial groups.
func (g *groupTable) findFixed(cols []*vec, n int, gids []int32) (bool, error) {
	for c, v := range cols {
		switch kindOf(v.t) {
		case kInt, kBool:
		case kFloat:
			if v.nx != nil { // exact numerics group by value (appendKey)
				return false, nil
			}
		case kText:
			if !g.byID || !v.isDict || len(v.dict) == 0 {
				return false, nil
			}
			if g.dictOf[c] == nil {
				g.dictOf[c] = v.dict
			}
			if !sameDict(g.dictOf[c], v.dict) {
				return false, nil
			}
		default:
			return false, nil
		}
	}
	if g.fm == nil {
		g.fm = newFixedTable(64)
		if err := g.charge(g.fm.bytes()); err != nil {
			return true, err
		}
	}
	x, y := cols[0], cols[0]
	two := len(cols) == 2
	if two {
		y = cols[1]
	}
	var prev fixedKey
	prevG := int32(-1)
	for i := 0; i < n; i++ {
		var k fixedKey
		if x.isNull(i) {
			k.null |= 1
		} else {
			k.a = fixedWord(x, i)
		}
		if two {
			if y.isNull(i) {
				k.null |= 2
			} else {
				k.b = fixedWord(y, i)
			}
		}
		if prevG >= 0 && k == prev {
			gids[i] = prevG
			continue
		}
		gr := g.fm.get(k)
		if gr < 0 {
			var err error
			if gr, err = g.newGroup(cols, i); err != nil {
				return true, err
			}
			before := g.fm.bytes()
			if g.fm.put(k, gr) {
				if err := g.charge(g.fm.bytes() - before); err != nil {
					return true, err
				}
			}
		}
		gids[i] = gr
		prev, prevG = k, gr
	}
	return true, nil
}

func (g *groupTable) findDense(c *vec, n int, gids []int32) error {
	if g.denseOf == nil {
		g.denseOf = c.dict
		g.dense = make([]int32, len(c.dict))
		for i := range g.dense {
			g.dense[i] = -1
		}
		// Keys stay dictionary ids of this dictionary; values are looked up at merge.
		g.keys[0].isDict, g.keys[0].dict = true, c.dict
		if g.mem != nil {
			if err := g.mem.grow(int64(len(c.dict)) * 4); err != nil {
				return err
			}
		}
	}
	cols := []*vec{c}
	for i := 0; i < n; i++ {
		if c.isNull(i) {
			if g.nullG < 0 {
				id, err := g.newGroup(cols, i)
				if err != nil {
					return err
				}
				g.nullG = id
			}
			gids[i] = g.nullG
			continue
		}
		id := c.ids[i]
		gr := g.dense[id]
		if gr < 0 {
			if k := g.keys[0]; k.isDict {
				// newGroup, specialized: the key row is the id.
				gr = int32(g.ngroups)
				g.ngroups++
				k.ids = append(k.ids, id)
				if k.nulls != nil {
					k.nulls = append(k.nulls, false)
				}
				k.n++
				if err := g.charge(g.groupBytes()); err != nil {
					return err
				}
			} else {
				var err error
				if gr, err = g.newGroup(cols, i); err != nil {
					return err
				}
			}
			g.dense[id] = gr
		}
		gids[i] = gr
	}
	return nil
}

func (g *groupTable) findText(c *vec, n int, gids []int32) error {
	cols := []*vec{c}
	for i := 0; i < n; i++ {
		if c.isNull(i) {
			if g.nullG < 0 {
				id, err := g.newGroup(cols, i)
				if err != nil {
					return err
				}
				g.nullG = id
			}
			gids[i] = g.nullG
			continue
		}
		s := c.str(i)
		id, h, ok := g.sm.find(g.keys[0].s, s)
		gr := int32(id)
		if !ok {
			var err error
			if gr, err = g.newGroup(cols, i); err != nil {
				return err
			}
			// The table finds the string the group keys keep (no second copy).
			if err := g.charge(g.sm.put(h, uint32(gr))); err != nil {
				return err
			}
		}
		gids[i] = gr
	}
	return nil
}

// appendKey appends the encoding of row i of v to dst; byID encodes dictionary text
// of dictionary dict by id.
func appendKey(dst []byte, v *vec, i int, idDict []string) []byte {
	if v.isNull(i) {
		return append(dst, 0)
	}
	switch kindOf(v.t) {
	case kInt:
		dst = append(dst, 1)
		return binary.LittleEndian.AppendUint64(dst, uint64(v.i[i]))
	case kFloat:
		if v.nx != nil { // exact numerics: by value, which a float may not tell apart
			dst = append(dst, 'n')
			k := len(dst)
			dst = appendNumericKey(append(dst, 0, 0, 0, 0), v.nx[i])
			binary.LittleEndian.PutUint32(dst[k:], uint32(len(dst)-k-4))
			return dst
		}
		dst = append(dst, 1)
		return binary.LittleEndian.AppendUint64(dst, floatKey(v.f[i]))
	case kBool:
		if v.b[i] {
			return append(dst, 1, 1)
		}
		return append(dst, 1, 0)
	case kText:
		if v.isDict && idDict != nil {
			dst = append(dst, 'd')
			return binary.LittleEndian.AppendUint32(dst, v.ids[i])
		}
		s := v.str(i)
		dst = append(dst, 's')
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		return append(dst, s...)
	case kInterval: // by span: '1 mon' and '30 days' are one group (ivalNorm)
		days, us := ivalNorm(v.iv[i])
		dst = append(dst, 1)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(days))
		return binary.LittleEndian.AppendUint64(dst, uint64(us))
	}
	return append(dst, 2)
}

func (g *groupTable) findEncoded(cols []*vec, n int, gids []int32) error {
	idDicts := make([][]string, len(cols))
	for c, v := range cols {
		if g.byID && v.isDict {
			if g.dictOf[c] == nil {
				g.dictOf[c] = v.dict
			}
			if sameDict(g.dictOf[c], v.dict) && len(v.dict) > 0 {
				idDicts[c] = v.dict
			}
		}
	}
	for i := 0; i < n; i++ {
		buf := g.buf[:0]
		for c, v := range cols {
			buf = appendKey(buf, v, i, idDicts[c])
		}
		g.buf = buf
		gr, ok := g.m[string(buf)]
		if !ok {
			var err error
			if gr, err = g.newGroup(cols, i); err != nil {
				return err
			}
			g.m[string(buf)] = gr
			if err := g.charge(int64(len(buf))); err != nil {
				return err
			}
		}
		gids[i] = gr
	}
	return nil
}
