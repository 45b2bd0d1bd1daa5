package engine

import "time"

// AT TIME ZONE (PostgreSQL 15 §9.9.4), which the parser turns into
// timezone(zone, value):
//
//	timestamptz AT TIME ZONE z  the wall-clock time in z (timestamp)
//	timestamp   AT TIME ZONE z  the instant that wall-clock time in z is (timestamptz)
//
// z is an IANA name in any case, an abbreviation tzdata knows (EST), or a POSIX
// zone; a bare number is POSIX, hours west ('+08' is UTC-8), as in PostgreSQL.

func init() {
	k := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		out := newVec(c.T, n)
		out.nulls = unionNulls(n, args...)
		zones := map[string]*zoneRef{}
		for i := 0; i < n; i++ {
			if out.isNull(i) {
				continue
			}
			name := args[0].str(i)
			z := zones[name]
			if z == nil {
				loc, err := loadZone(name, true)
				if err != nil {
					return nil, err
				}
				z = &zoneRef{loc}
				zones[name] = z
			}
			if c.T.ID == TypeTimestamp {
				out.i[i] = utcToLocal(args[1].i[i], z.loc)
			} else {
				out.i[i] = localToUTC(args[1].i[i], z.loc)
			}
		}
		return out, nil
	}
	register(
		&Func{Name: "timezone", Args: sig(Text, TimestampTZ), Ret: Timestamp, Strict: true, kernel: k},
		&Func{Name: "timezone", Args: sig(Text, Timestamp), Ret: TimestampTZ, Strict: true, kernel: k},
	)
}

type zoneRef struct{ loc *time.Location }
