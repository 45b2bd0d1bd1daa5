package pgwire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage"
)

// The fake backend answers a fixed set of queries with fixed Arrow batches, so that
// the protocol can be tested with real clients without the SQL layer.

type ival struct {
	months, days int32
	us           int64
}

var itemFields = []engine.Field{
	{Name: "id", Type: engine.Int64}, {Name: "small", Type: engine.Int16}, {Name: "mid", Type: engine.Int32}, {Name: "name", Type: engine.Text},
	{Name: "price", Type: engine.Float64}, {Name: "ratio", Type: engine.Float32}, {Name: "amount", Type: engine.Numeric}, {Name: "ok", Type: engine.Bool},
	{Name: "day", Type: engine.Date}, {Name: "ts", Type: engine.Timestamp}, {Name: "tstz", Type: engine.TimestampTZ}, {Name: "dur", Type: engine.Interval},
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t
}

// itemBatches are the rows of "select * from items", in two batches.
var itemBatches = [][][]any{
	{
		{int64(1), int64(-2), int64(300000), "alpha", 1.5, 0.25, 123.45, true,
			utc("2024-06-01 00:00:00"), utc("2024-06-01 05:45:25.511126"), utc("2024-06-01 05:45:25.511126"), ival{14, 3, 4*3600e6 + 5*60e6 + 6789000}},
		{int64(2), int64(32767), int64(-2147483648), "βeta", -0.1, 1e6, -0.001, false,
			utc("1999-12-31 00:00:00"), utc("1970-01-01 00:00:00"), utc("2000-01-01 00:00:00"), ival{0, -1, 0}},
		{int64(3), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	},
	{
		{int64(math.MaxInt64), int64(0), int64(0), "alpha", 1e20, 1.5, 1e20, true,
			utc("2000-02-29 00:00:00"), utc("2024-01-02 03:04:05"), utc("2024-01-02 03:04:05"), ival{0, 0, 1}},
	},
}

var mem = memory.NewGoAllocator()

// buildBatch builds one record batch; text columns become dictionary arrays when
// dict is set.
func buildBatch(fields []engine.Field, rows [][]any, dict bool) arrow.RecordBatch {
	cols := make([]arrow.Array, len(fields))
	afields := make([]arrow.Field, len(fields))
	for i, f := range fields {
		var b array.Builder
		switch f.Type.ID {
		case engine.TypeText:
			if dict {
				b = array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint32, ValueType: arrow.BinaryTypes.String})
			} else {
				b = array.NewStringBuilder(mem)
			}
		default:
			b = array.NewBuilder(mem, f.Type.Arrow())
		}
		for _, row := range rows {
			v := row[i]
			if v == nil {
				b.AppendNull()
				continue
			}
			switch bb := b.(type) {
			case *array.Int64Builder:
				bb.Append(v.(int64))
			case *array.Float64Builder:
				bb.Append(v.(float64))
			case *array.BooleanBuilder:
				bb.Append(v.(bool))
			case *array.StringBuilder:
				bb.Append(v.(string))
			case *array.BinaryDictionaryBuilder:
				if err := bb.AppendString(v.(string)); err != nil {
					panic(err)
				}
			case *array.TimestampBuilder:
				bb.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
			case *array.Date32Builder:
				bb.Append(arrow.Date32(v.(time.Time).Unix() / 86400))
			case *array.MonthDayNanoIntervalBuilder:
				iv := v.(ival)
				bb.Append(engine.IntervalArrow(iv.months, iv.days, iv.us))
			default:
				panic(fmt.Sprintf("test builder %T", b))
			}
		}
		cols[i] = b.NewArray()
		afields[i] = arrow.Field{Name: f.Name, Type: cols[i].DataType(), Nullable: true}
		b.Release()
	}
	rb := array.NewRecordBatch(arrow.NewSchema(afields, nil), cols, int64(len(rows)))
	for _, c := range cols {
		c.Release()
	}
	return rb
}

// fakeRows serves batches produced by next until it returns nil.
type fakeRows struct {
	b      *fakeBackend
	fields []engine.Field
	next   func(ctx context.Context) (arrow.RecordBatch, error)
	closed atomic.Bool
}

func (r *fakeRows) Fields() []engine.Field { return r.fields }
func (r *fakeRows) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := r.next(ctx)
	if b == nil && err == nil {
		return nil, io.EOF
	}
	return b, err
}
func (r *fakeRows) Close() {
	if !r.closed.Swap(true) {
		r.b.rowsOpen.Add(-1)
	}
}

func (b *fakeBackend) newRows(fields []engine.Field, batches []arrow.RecordBatch) *fakeRows {
	b.rowsOpen.Add(1)
	i := 0
	return &fakeRows{b: b, fields: fields, next: func(context.Context) (arrow.RecordBatch, error) {
		if i == len(batches) {
			return nil, nil
		}
		i++
		return batches[i-1], nil
	}}
}

type fakeBackend struct {
	rowsOpen atomic.Int64 // Rows handed out and not yet closed
	started  chan struct{}
	noSleep  bool // fuzzing: pg_sleep fails at once and huge is not huge
	mu       sync.Mutex
	copied   []string // lines loaded by COPY
}

func newFakeBackend() *fakeBackend { return &fakeBackend{started: make(chan struct{}, 16)} }

func (b *fakeBackend) NewSession(user, database string) Session {
	return &fakeSession{b: b, settings: map[string]string{"session_authorization": user}}
}

type fakeSession struct {
	b        *fakeBackend
	settings map[string]string
}

func (s *fakeSession) Setting(name string) (string, bool) {
	v, ok := s.settings[strings.ToLower(name)]
	return v, ok
}

func (s *fakeSession) Set(name, value string) error {
	if name == "bogus_startup" {
		return engine.Errorf("42704", "unrecognized configuration parameter %q", name)
	}
	s.settings[strings.ToLower(name)] = value
	return nil
}

// fakeSplit splits on ';' and drops empty and comment-only pieces.
func fakeSplit(q string) ([]string, error) {
	if strings.Contains(q, "split_error") {
		return nil, &engine.Error{Code: sqlstate.SyntaxError, Message: "unterminated quoted string"}
	}
	var out []string
	for _, p := range strings.Split(q, ";") {
		t := strings.TrimSpace(p)
		for strings.HasPrefix(t, "--") {
			if i := strings.IndexByte(t, '\n'); i >= 0 {
				t = strings.TrimSpace(t[i+1:])
			} else {
				t = ""
			}
		}
		if t != "" {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out, nil
}

var echoDefaults = []engine.Type{engine.Int64, engine.Text, engine.Float64, engine.Bool, engine.TimestampTZ, engine.Date, engine.Numeric, engine.Int32}

const echoQuery = "select $1, $2, $3, $4, $5, $6, $7, $8"

func (s *fakeSession) Prepare(ctx context.Context, q string, types []engine.Type) (*sql.Statement, error) {
	key := strings.ToLower(strings.Join(strings.Fields(q), " "))
	st := &sql.Statement{Query: key}
	switch key {
	case "select * from items":
		st.Fields = itemFields
	case "select 1":
		st.Fields = []engine.Field{{Name: "?column?", Type: engine.Int32}}
	case "select n from big", "select n from huge":
		st.Fields = []engine.Field{{Name: "n", Type: engine.Int64}}
	case echoQuery:
		st.ParamTypes = append([]engine.Type(nil), echoDefaults...)
		for i, t := range types {
			if t != engine.Unknown {
				st.ParamTypes[i] = t
			}
		}
		for i, t := range st.ParamTypes {
			st.Fields = append(st.Fields, engine.Field{Name: "p" + strconv.Itoa(i+1), Type: t})
		}
	case "select pg_sleep(10)", "select 1/0", "select panic()", "select corrupt":
		st.Fields = []engine.Field{{Name: "x", Type: engine.Int64}}
	case "select panic_rows()":
		st.Fields = []engine.Field{{Name: "x", Type: engine.Int64}}
	case "select hint":
		return nil, &engine.Error{Code: sqlstate.UndefinedFunction, Message: "function nope() does not exist", Detail: "some detail", Hint: "some hint", Position: 8}
	case "select notice":
		st.Fields = []engine.Field{{Name: "x", Type: engine.Int64}}
	case "begin", "start transaction", "commit", "rollback", "end", "abort", "copy items from stdin",
		"insert into items values (1)", "rollback to savepoint a", "savepoint a", "begin read write":
	default:
		if strings.HasPrefix(key, "set ") {
			break
		}
		if i := strings.Index(q, "bogus"); i >= 0 {
			return nil, &engine.Error{Code: sqlstate.SyntaxError, Message: `syntax error at or near "bogus"`, Position: len([]rune(q[:i])) + 1}
		}
		return nil, engine.Errorf(sqlstate.UndefinedTable, "relation for %q does not exist", q)
	}
	return st, nil
}

func (s *fakeSession) Execute(ctx context.Context, st *sql.Statement, params []engine.Value) (*sql.Result, error) {
	if len(params) != len(st.ParamTypes) {
		return nil, fmt.Errorf("fake: %d params for %d", len(params), len(st.ParamTypes))
	}
	b := s.b
	switch st.Query {
	case "select * from items":
		var batches []arrow.RecordBatch
		for _, rows := range itemBatches {
			batches = append(batches, buildBatch(itemFields, rows, true))
		}
		return &sql.Result{Fields: st.Fields, Rows: b.newRows(st.Fields, batches), Tag: "SELECT"}, nil
	case "select 1":
		return &sql.Result{Fields: st.Fields, Rows: b.newRows(st.Fields, []arrow.RecordBatch{buildBatch(st.Fields, [][]any{{int64(1)}}, false)}), Tag: "SELECT"}, nil
	case "select n from big", "select n from huge":
		total := int64(10_000)
		if st.Query == "select n from huge" && !b.noSleep {
			total = 1 << 40
		}
		var n int64
		b.rowsOpen.Add(1)
		return &sql.Result{Fields: st.Fields, Tag: "SELECT", Rows: &fakeRows{b: b, fields: st.Fields, next: func(context.Context) (arrow.RecordBatch, error) {
			if n == total {
				return nil, nil
			}
			bld := array.NewInt64Builder(mem)
			defer bld.Release()
			for i := 0; i < 1000 && n < total; i++ {
				n++
				bld.Append(n)
			}
			arr := bld.NewArray()
			defer arr.Release()
			return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{arr}, int64(arr.Len())), nil
		}}}, nil
	case echoQuery:
		row := make([]any, len(params))
		for i, p := range params {
			v, err := fakeValue(p, st.ParamTypes[i])
			if err != nil {
				return nil, err
			}
			row[i] = v
		}
		return &sql.Result{Fields: st.Fields, Rows: b.newRows(st.Fields, []arrow.RecordBatch{buildBatch(st.Fields, [][]any{row}, false)}), Tag: "SELECT"}, nil
	case "select pg_sleep(10)":
		if b.noSleep {
			return nil, engine.Errorf(sqlstate.QueryCanceled, "no sleeping here")
		}
		b.started <- struct{}{}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sleep: %w", ctx.Err())
		case <-time.After(10 * time.Second):
			return nil, errors.New("fake: pg_sleep was not cancelled")
		}
	case "select 1/0":
		return nil, engine.Errorf(sqlstate.DivisionByZero, "division by zero")
	case "select panic()":
		panic("fake executor exploded")
	case "select panic_rows()":
		first := true
		b.rowsOpen.Add(1)
		return &sql.Result{Fields: st.Fields, Tag: "SELECT", Rows: &fakeRows{b: b, fields: st.Fields, next: func(context.Context) (arrow.RecordBatch, error) {
			if first {
				first = false
				return buildBatch(st.Fields, [][]any{{int64(7)}}, false), nil
			}
			panic("fake rows exploded")
		}}}, nil
	case "select corrupt":
		return nil, fmt.Errorf("open segment s1: column x: %w", storage.ErrCorrupt)
	case "select notice":
		return &sql.Result{Fields: st.Fields, Rows: b.newRows(st.Fields, []arrow.RecordBatch{buildBatch(st.Fields, [][]any{{int64(1)}}, false)}), Tag: "SELECT", Notices: []string{"hello from the fake"}}, nil
	case "begin", "start transaction", "begin read write":
		return &sql.Result{Tag: "BEGIN"}, nil
	case "commit", "end":
		return &sql.Result{Tag: "COMMIT"}, nil
	case "rollback", "abort", "rollback to savepoint a":
		return &sql.Result{Tag: "ROLLBACK"}, nil
	case "savepoint a":
		return &sql.Result{Tag: "SAVEPOINT"}, nil
	case "insert into items values (1)":
		return &sql.Result{Tag: "INSERT 0 1"}, nil
	case "copy items from stdin":
		return &sql.Result{CopyColumns: 2, CopyText: true, CopyIn: b.copyIn}, nil
	}
	if strings.HasPrefix(st.Query, "set ") {
		f := strings.Fields(st.Query)
		if len(f) >= 4 {
			s.settings[f[1]] = strings.Trim(f[3], "'")
		}
		return &sql.Result{Tag: "SET"}, nil
	}
	return nil, fmt.Errorf("fake: no result for %q", st.Query)
}

// copyIn loads tab-separated lines: "bad" lines are rejected, a "boom" line fails.
func (b *fakeBackend) copyIn(ctx context.Context, r io.Reader) (sql.CopyStats, error) {
	var st sql.CopyStats
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		switch {
		case t == "boom":
			return st, engine.Errorf(sqlstate.BadCopyFileFormat, "line %d: boom", line)
		case !strings.Contains(t, "\t"):
			st.Rejected++
			st.FirstErrors = append(st.FirstErrors, fmt.Sprintf("line %d: missing column", line))
			continue
		}
		b.mu.Lock()
		b.copied = append(b.copied, t)
		b.mu.Unlock()
		st.Rows++
	}
	return st, sc.Err()
}

// fakeValue converts a parameter to the Go value buildBatch takes, parsing text the
// way a client writes it (a tiny stand-in for the SQL layer's conversion).
func fakeValue(p engine.Value, t engine.Type) (any, error) {
	if p.Null {
		return nil, nil
	}
	if p.Type == engine.Unknown {
		s := p.S
		var err error
		switch t.ID {
		case engine.TypeInt16, engine.TypeInt32, engine.TypeInt64:
			p.I, err = strconv.ParseInt(s, 10, 64)
		case engine.TypeFloat32, engine.TypeFloat64, engine.TypeNumeric:
			p.F, err = strconv.ParseFloat(s, 64)
		case engine.TypeBool:
			p.B = s == "t" || s == "true"
		case engine.TypeText:
			p.S = s
		case engine.TypeTimestamp, engine.TypeTimestampTZ:
			var tm time.Time
			tm, err = time.Parse("2006-01-02 15:04:05.999999Z07", s)
			if err != nil {
				tm, err = time.Parse("2006-01-02 15:04:05.999999Z07:00", s)
			}
			p.I = tm.UnixMicro()
		case engine.TypeDate:
			var tm time.Time
			tm, err = time.Parse("2006-01-02", s[:min(len(s), 10)])
			p.I = tm.Unix() / 86400
		}
		if err != nil {
			return nil, engine.Errorf(sqlstate.InvalidTextRepresentation, "invalid input %q for %s", s, t)
		}
		p.Type = t
	}
	if p.Type != t {
		return nil, fmt.Errorf("fake: parameter of type %s for %s", p.Type, t)
	}
	switch t.ID {
	case engine.TypeInt16, engine.TypeInt32, engine.TypeInt64:
		return p.I, nil
	case engine.TypeFloat32, engine.TypeFloat64, engine.TypeNumeric:
		return p.F, nil
	case engine.TypeBool:
		return p.B, nil
	case engine.TypeText:
		return p.S, nil
	case engine.TypeTimestamp, engine.TypeTimestampTZ:
		return time.UnixMicro(p.I).UTC(), nil
	case engine.TypeDate:
		return time.Unix(p.I*86400, 0).UTC(), nil
	}
	return nil, fmt.Errorf("fake: type %s", t)
}
