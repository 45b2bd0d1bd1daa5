package engine

import (
	"math"
	"strconv"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Date/time functions (PostgreSQL 15 §9.9) and formatting (§9.8), with the time
// bucketing idioms of Druid (time_floor) and TimescaleDB (time_bucket). strata has
// no implicit cast from date, so the functions that take a date declare a date
// overload of their own.

func init() {
	truncK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		// A timestamptz (or date) is truncated on the session zone's wall clock.
		if x := args[1]; c.T.ID == TypeTimestampTZ && (ev.zoned(x) || x.t.ID == TypeDate && ev.zoned(&vec{t: TimestampTZ})) {
			if x.t.ID == TypeTimestampTZ {
				x = ev.localVec(x)
			}
			r, err := dateTrunc(args[0], x, Timestamp)
			if err != nil {
				return nil, err
			}
			return ev.utcVec(r), nil
		}
		return dateTrunc(args[0], args[1], c.T)
	}
	register(
		&Func{Name: "date_trunc", Args: sig(Text, Timestamp), Ret: Timestamp, Strict: true, kernel: truncK},
		&Func{Name: "date_trunc", Args: sig(Text, TimestampTZ), Ret: TimestampTZ, Strict: true, Vol: Stable, kernel: truncK},
		&Func{Name: "date_trunc", Args: sig(Text, Interval), Ret: Interval, Strict: true, kernel: truncK},
		&Func{Name: "date_trunc", Args: sig(Text, Date), Ret: TimestampTZ, Strict: true, Vol: Stable, kernel: truncK},
	)
	extractFast := func(ev *evaluator, c *Call, b *batch) (*vec, bool, error) {
		if c.Args[1].Type().ID == TypeTimestampTZ && ev.zoned(&vec{t: TimestampTZ}) {
			return nil, false, nil // the kernel reads the session zone's wall clock
		}
		return ev.extractConst(c, b)
	}
	for _, name := range []string{"extract", "date_part"} {
		isExtract := name == "extract"
		ret := Float64
		if isExtract {
			ret = Numeric
		}
		k := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			x := args[1]
			if u, ok := constText(args[0]); ev.zoned(x) && !(ok && parseUnit(u) == uEpoch) {
				x = ev.localVec(x) // fields of the session zone's wall clock; epoch stays absolute
			}
			return extract(args[0], x, c.T, isExtract)
		}
		for _, t := range []Type{Timestamp, TimestampTZ, Interval, Date} {
			vol := Immutable
			if t == TimestampTZ {
				vol = Stable // depends on the session's time zone in PostgreSQL
			}
			register(&Func{Name: name, Args: sig(Text, t), Ret: ret, Strict: true, Vol: vol, kernel: k, fast: extractFast})
		}
	}
	toCharNumK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) { return toCharNum(args[0], args[1], n) }
	toCharTimeK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return toCharTimeIn(args[0], args[1], n, ev.zone()), nil
	}
	for _, t := range []Type{Int64, Int32, Numeric, Float32, Float64} {
		register(&Func{Name: "to_char", Args: sig(t, Text), Ret: Text, Strict: true, Vol: Stable, kernel: toCharNumK})
	}
	for _, t := range []Type{Timestamp, TimestampTZ, Date} {
		register(&Func{Name: "to_char", Args: sig(t, Text), Ret: Text, Strict: true, Vol: Stable, kernel: toCharTimeK})
	}
	register(&Func{Name: "to_char", Args: sig(Interval, Text), Ret: Text, Strict: true, Vol: Stable,
		kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			return toCharInterval(args[0], args[1], n)
		}})
	register(&Func{Name: "to_timestamp", Args: sig(Float64), Ret: TimestampTZ, Strict: true, kernel: toTimestampKernel})

	nowK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return constVec(Value{Type: TimestampTZ, I: ev.now.UnixMicro()}, n), nil
	}
	for _, name := range []string{"now", "transaction_timestamp", "statement_timestamp", "clock_timestamp", "current_timestamp"} {
		f := &Func{Name: name, Ret: TimestampTZ, Vol: Stable, Strict: true, kernel: nowK}
		switch name {
		case "clock_timestamp":
			f.Vol = Volatile
		case "current_timestamp":
			f.Kind = KindSyntax
		}
		register(f)
	}
	register(
		&Func{Name: "localtimestamp", Ret: Timestamp, Vol: Stable, Kind: KindSyntax,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				return constVec(Value{Type: Timestamp, I: utcToLocal(ev.now.UnixMicro(), ev.zone())}, n), nil
			}},
		&Func{Name: "current_date", Ret: Date, Vol: Stable, Kind: KindSyntax,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				return constVec(Value{Type: Date, I: floorDiv(utcToLocal(ev.now.UnixMicro(), ev.zone()), usPerDay)}, n), nil
			}},
	)

	floorK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) { return timeFloor(args[0], args[1]) }
	bucketK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return timeBucket("time_bucket", args[0], args[1], nil)
	}
	binK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return timeBucket("date_bin", args[0], args[1], args[2])
	}
	for _, t := range []Type{Timestamp, TimestampTZ} {
		register(
			// Druid: TIME_FLOOR(ts, 'PT5M')
			&Func{Name: "time_floor", Args: sig(t, Text), Ret: t, Strict: true, kernel: floorK},
			// TimescaleDB: time_bucket(width interval, ts)
			&Func{Name: "time_bucket", Args: sig(Interval, t), Ret: t, Strict: true, kernel: bucketK},
			// date_bin(stride, source, origin); strata also takes an origin of the
			// other timestamp type
			&Func{Name: "date_bin", Args: sig(Interval, t, t), Ret: t, Strict: true, kernel: binK,
				accept: func(a []Type) bool {
					return len(a) == 3 && a[0].ID == TypeInterval && a[1] == t && a[2].IsTime()
				}},
		)
	}
}

func toTimestampKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	x := args[0]
	out := newVec(TimestampTZ, n)
	out.nulls = x.nulls
	for i, v := range floats(x) {
		if x.isNull(i) {
			continue
		}
		switch {
		case math.IsNaN(v):
			return nil, Errorf(sqlstate.DatetimeFieldOverflow, "timestamp cannot be NaN")
		case math.IsInf(v, 1):
			out.i[i] = math.MaxInt64
		case math.IsInf(v, -1):
			out.i[i] = math.MinInt64
		default:
			r := math.Round(v * 1e6)
			if math.Abs(r) > 9.2e18 {
				return nil, Errorf(sqlstate.DatetimeFieldOverflow, "timestamp out of range: \"%s\"", strconv.FormatFloat(v, 'g', -1, 64))
			}
			out.i[i] = int64(r)
		}
	}
	return out, nil
}
