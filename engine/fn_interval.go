package engine

import (
	"math"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Interval and date/time construction functions (PostgreSQL 15 §9.9): age,
// justify_days, justify_hours, justify_interval, make_interval (named arguments:
// make_interval(days => 3)), make_date, make_timestamp, make_timestamptz,
// isfinite. A timestamptz's fields are those in the session's time zone.

func init() {
	ageK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		out := newVec(Interval, n)
		out.nulls = unionNulls(n, args...)
		loc := ev.now.Location()
		tz := args[0].t.ID == TypeTimestampTZ
		for i := 0; i < n; i++ {
			if out.isNull(i) {
				continue
			}
			var a, b int64
			if len(args) == 2 {
				a, b = args[0].i[i], args[1].i[i]
			} else {
				// age(ts) is from midnight of the current date
				today := floorDiv(utcToLocal(ev.now.UnixMicro(), loc), usPerDay) * usPerDay
				a, b = today, args[0].i[i]
				if tz {
					a = localToUTC(today, loc)
				}
			}
			if args[0].t.ID == TypeDate { // a date is read as midnight, in any zone
				a, b = args[0].i[i]*usPerDay, args[1].i[i]*usPerDay
			} else if tz {
				a, b = utcToLocal(a, loc), utcToLocal(b, loc)
			}
			iv, err := ageOf(a, b)
			if err != nil {
				return nil, err
			}
			out.iv[i] = iv
		}
		return out, nil
	}
	justify := func(f func(ival) ival) Kernel {
		return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			out := newVec(Interval, n)
			out.nulls = args[0].nulls
			for i := 0; i < n; i++ {
				if !args[0].isNull(i) {
					out.iv[i] = f(args[0].iv[i])
				}
			}
			return out, nil
		}
	}
	register(
		&Func{Name: "age", Args: sig(Timestamp, Timestamp), Ret: Interval, Strict: true, kernel: ageK},
		&Func{Name: "age", Args: sig(TimestampTZ, TimestampTZ), Ret: Interval, Strict: true, Vol: Stable, kernel: ageK},
		// strata has no implicit cast from date; PostgreSQL reads age(date, date) as
		// over timestamptz, which gives the same interval (not in pg_proc: KindSyntax).
		&Func{Name: "age", Args: sig(Date, Date), Ret: Interval, Strict: true, Vol: Stable, Kind: KindSyntax, kernel: ageK},
		&Func{Name: "age", Args: sig(Timestamp), Ret: Interval, Strict: true, Vol: Stable, kernel: ageK},
		&Func{Name: "age", Args: sig(TimestampTZ), Ret: Interval, Strict: true, Vol: Stable, kernel: ageK},
		&Func{Name: "justify_days", Args: sig(Interval), Ret: Interval, Strict: true, kernel: justify(justifyDays)},
		&Func{Name: "justify_hours", Args: sig(Interval), Ret: Interval, Strict: true, kernel: justify(justifyHours)},
		&Func{Name: "justify_interval", Args: sig(Interval), Ret: Interval, Strict: true, kernel: justify(justifyInterval)},
		&Func{Name: "make_interval", Args: sig(Int32, Int32, Int32, Int32, Int32, Int32, Float64), Ret: Interval, Strict: true,
			ArgNames: []string{"years", "months", "weeks", "days", "hours", "mins", "secs"},
			Defaults: []string{"0", "0", "0", "0", "0", "0", "0.0"}, kernel: makeIntervalKernel},
		&Func{Name: "make_date", Args: sig(Int32, Int32, Int32), Ret: Date, Strict: true,
			ArgNames: []string{"year", "month", "day"}, kernel: makeTimeKernel},
		&Func{Name: "make_timestamp", Args: sig(Int32, Int32, Int32, Int32, Int32, Float64), Ret: Timestamp, Strict: true,
			ArgNames: []string{"year", "month", "mday", "hour", "min", "sec"}, kernel: makeTimeKernel},
		&Func{Name: "make_timestamptz", Args: sig(Int32, Int32, Int32, Int32, Int32, Float64), Ret: TimestampTZ, Strict: true, Vol: Stable,
			ArgNames: []string{"year", "month", "mday", "hour", "min", "sec"}, kernel: makeTimeKernel},
		&Func{Name: "make_timestamptz", Args: sig(Int32, Int32, Int32, Int32, Int32, Float64, Text), Ret: TimestampTZ, Strict: true, Vol: Stable,
			ArgNames: []string{"year", "month", "mday", "hour", "min", "sec", "timezone"}, kernel: makeTimeKernel},
	)
	for _, t := range []Type{Timestamp, TimestampTZ, Date, Interval} {
		register(&Func{Name: "isfinite", Args: sig(t), Ret: Bool, Strict: true,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				out := newVec(Bool, n)
				out.nulls = args[0].nulls
				for i := 0; i < n; i++ {
					out.b[i] = args[0].t.ID == TypeInterval ||
						(args[0].i[i] != math.MaxInt64 && args[0].i[i] != math.MinInt64 &&
							args[0].i[i] != math.MaxInt32 && args[0].i[i] != math.MinInt32)
				}
				return out, nil
			}})
	}
}

// wallFields splits a wall-clock time (µs) into its fields.
func wallFields(us int64) (y int64, mo, d, h, mi, s int, frac int64) {
	days := floorDiv(us, usPerDay)
	rem := us - days*usPerDay
	y, mo, d = civil(days)
	h = int(rem / 3600e6)
	mi = int(rem / 60e6 % 60)
	s = int(rem / 1e6 % 60)
	frac = rem % 1e6
	return
}

// ageOf is PostgreSQL's timestamp_age over two wall-clock times: the field-wise
// difference a - b, borrowing from the next field up (a month borrows the days of
// the month of the earlier time).
func ageOf(a, b int64) (ival, error) {
	if a == math.MaxInt64 || a == math.MinInt64 || b == math.MaxInt64 || b == math.MinInt64 {
		return ival{}, Errorf(sqlstate.DatetimeFieldOverflow, "cannot subtract infinite timestamps")
	}
	y1, mo1, d1, h1, mi1, s1, f1 := wallFields(a)
	y2, mo2, d2, h2, mi2, s2, f2 := wallFields(b)
	fsec := f1 - f2
	sec, min_, hour := s1-s2, mi1-mi2, h1-h2
	mday, mon, year := d1-d2, mo1-mo2, y1-y2
	neg := a < b
	if neg {
		fsec, sec, min_, hour, mday, mon, year = -fsec, -sec, -min_, -hour, -mday, -mon, -year
	}
	for fsec < 0 {
		fsec += 1e6
		sec--
	}
	for sec < 0 {
		sec += 60
		min_--
	}
	for min_ < 0 {
		min_ += 60
		hour--
	}
	for hour < 0 {
		hour += 24
		mday--
	}
	for mday < 0 {
		if neg {
			mday += daysIn(y1, mo1)
		} else {
			mday += daysIn(y2, mo2)
		}
		mon--
	}
	for mon < 0 {
		mon += 12
		year--
	}
	if neg {
		fsec, sec, min_, hour, mday, mon, year = -fsec, -sec, -min_, -hour, -mday, -mon, -year
	}
	return ival{M: int32(year*12 + int64(mon)), D: int32(mday),
		U: int64(hour)*3600e6 + int64(min_)*60e6 + int64(sec)*1e6 + fsec}, nil
}

func justifyDays(iv ival) ival {
	whole := iv.D / 30
	iv.D -= whole * 30
	iv.M += whole
	if iv.M > 0 && iv.D < 0 {
		iv.D += 30
		iv.M--
	} else if iv.M < 0 && iv.D > 0 {
		iv.D -= 30
		iv.M++
	}
	return iv
}

func justifyHours(iv ival) ival {
	whole := iv.U / usPerDay
	iv.U -= whole * usPerDay
	iv.D += int32(whole)
	if iv.D > 0 && iv.U < 0 {
		iv.U += usPerDay
		iv.D--
	} else if iv.D < 0 && iv.U > 0 {
		iv.U -= usPerDay
		iv.D++
	}
	return iv
}

func justifyInterval(iv ival) ival {
	whole := iv.U / usPerDay
	iv.U -= whole * usPerDay
	iv.D += int32(whole)
	wm := iv.D / 30
	iv.D -= wm * 30
	iv.M += wm
	if iv.M > 0 && (iv.D < 0 || (iv.D == 0 && iv.U < 0)) {
		iv.D += 30
		iv.M--
	} else if iv.M < 0 && (iv.D > 0 || (iv.D == 0 && iv.U > 0)) {
		iv.D -= 30
		iv.M++
	}
	if iv.D > 0 && iv.U < 0 {
		iv.U += usPerDay
		iv.D--
	} else if iv.D < 0 && iv.U > 0 {
		iv.U -= usPerDay
		iv.D++
	}
	return iv
}

func makeIntervalKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(Interval, n)
	out.nulls = unionNulls(n, args...)
	get := func(k, i int) int64 {
		if k < len(args) {
			return args[k].i[i]
		}
		return 0
	}
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		secs := 0.0
		if len(args) > 6 {
			secs = floats(args[6])[i]
		}
		months := get(0, i)*12 + get(1, i)
		days := get(2, i)*7 + get(3, i)
		us := (float64(get(4, i))*3600+float64(get(5, i))*60)*1e6 + math.Round(secs*1e6)
		if months > math.MaxInt32 || months < math.MinInt32 || days > math.MaxInt32 || days < math.MinInt32 ||
			math.IsNaN(us) || math.Abs(us) > 9.2e18 {
			return nil, Errorf(sqlstate.DatetimeFieldOverflow, "interval out of range")
		}
		out.iv[i] = ival{M: int32(months), D: int32(days), U: int64(us)}
	}
	return out, nil
}

// makeTimeKernel is make_date, make_timestamp and make_timestamptz.
func makeTimeKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(c.T, n)
	out.nulls = unionNulls(n, args...)
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		y, mo, d := args[0].i[i], args[1].i[i], args[2].i[i]
		if y == 0 {
			return nil, Errorf(sqlstate.DatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", y, mo, d)
		}
		if y < 0 {
			y++ // make_date(-44, 3, 15) is 44 BC
		}
		if mo < 1 || mo > 12 || d < 1 || d > int64(daysIn(y, int(mo))) {
			if c.T.ID == TypeDate {
				return nil, Errorf(sqlstate.DatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", args[0].i[i], mo, d)
			}
			return nil, Errorf(sqlstate.DatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", args[0].i[i], mo, d)
		}
		days := daysFromCivil(y, int(mo), int(d))
		if c.T.ID == TypeDate {
			out.i[i] = days
			continue
		}
		h, mi := args[3].i[i], args[4].i[i]
		sec := floats(args[5])[i]
		if h < 0 || h > 24 || mi < 0 || mi > 59 || sec < 0 || sec > 60 || math.IsNaN(sec) ||
			(h == 24 && (mi > 0 || sec > 0)) {
			return nil, Errorf(sqlstate.DatetimeFieldOverflow, "time field value out of range: %d:%02d:%02s", h, mi, formatSecs(sec))
		}
		us := days*usPerDay + h*3600e6 + mi*60e6 + int64(math.Round(sec*1e6))
		if c.T.ID == TypeTimestampTZ {
			loc := ev.now.Location()
			if len(args) == 7 {
				l, err := LoadZone(args[6].str(i))
				if err != nil {
					return nil, err
				}
				loc = l
			}
			us = localToUTC(us, loc)
		}
		out.i[i] = us
	}
	return out, nil
}

func formatSecs(s float64) string {
	return string(appendFloat(nil, s, Float64))
}
