package sql

import (
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql/opt"
)

// The session's TimeZone (SET TIME ZONE 'Asia/Shanghai', SET timezone = …, the
// startup packet's TimeZone, SHOW timezone). It reaches the engine as the
// Location of Options.Now, so that timestamptz text, date_trunc, extract,
// to_char, casts to and from timestamp and date, AT TIME ZONE and day and month
// arithmetic follow it as in PostgreSQL; literals without an offset are read in
// it when bound.

// zone is the session's time zone.
func (s *Session) zone() *time.Location {
	v, _ := s.setting("timezone")
	if s.zoneCache.name == v && s.zoneCache.loc != nil {
		return s.zoneCache.loc
	}
	loc, err := engine.LoadZone(v)
	if err != nil {
		loc = time.UTC // checkSetting let only loadable zones in
	}
	s.zoneCache.name, s.zoneCache.loc = v, loc
	return loc
}

// zone is the binder's time zone.
func (b *binder) zone() *time.Location {
	if b.loc == nil {
		return time.UTC
	}
	return b.loc
}

// canonicalZone checks a TimeZone value and returns how SHOW prints it: the IANA
// name in its own case (asia/shanghai → Asia/Shanghai), <+08>-08 for a number.
func canonicalZone(value string) (string, error) {
	v := strings.Trim(strings.TrimSpace(value), `'"`)
	switch strings.ToUpper(v) {
	case "DEFAULT", "LOCAL":
		return "UTC", nil
	}
	loc, err := engine.LoadZone(v)
	if err != nil {
		return "", engine.Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter \"TimeZone\": %q", value)
	}
	return loc.String(), nil
}

// zonedCompare makes a comparison of a timestamp or date with a timestamptz in
// a session zone other than UTC read the timestamp (a date: its midnight) in the
// zone, as PostgreSQL's cross-type comparison operators do: the side without
// columns is cast (a timestamptz constant or now() to the zone's wall clock, a
// constant timestamp to an instant), so that a time column is still compared with
// a constant and prunes; in UTC both readings agree and nothing changes.
func (b *binder) zonedCompare(op string, l, r engine.Expr) (engine.Expr, engine.Expr) {
	switch op {
	case "=", "<>", "<", "<=", ">", ">=":
	default:
		return l, r
	}
	if b.zone() == time.UTC {
		return l, r
	}
	wall := func(t engine.Type) bool { return t == engine.Timestamp || t == engine.Date }
	swap := false
	if l.Type() == engine.TimestampTZ && wall(r.Type()) {
		l, r, swap = r, l, true
	}
	// here, when it applies: l is the timestamp or date, r the timestamptz
	if wall(l.Type()) && r.Type() == engine.TimestampTZ {
		if !hasColumn(r) && hasColumn(l) && l.Type() == engine.Timestamp {
			r = &engine.Cast{X: r, T: engine.Timestamp}
		} else {
			l = &engine.Cast{X: l, T: engine.TimestampTZ}
		}
	}
	if swap {
		l, r = r, l
	}
	return l, r
}

// hasColumn reports whether e reads a column.
func hasColumn(e engine.Expr) bool {
	found := false
	opt.WalkExpr(e, func(x engine.Expr) {
		if _, ok := x.(*engine.ColRef); ok {
			found = true
		}
	})
	return found
}
