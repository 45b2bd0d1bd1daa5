package sql

import (
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
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

// zonedCompare makes a comparison of a timestamp or date with a timestamptz
// compare instants: the timestamp (date: its midnight) is read in the session's
// zone, as PostgreSQL's cross-type comparison operators do.
func zonedCompare(op string, l, r engine.Expr) (engine.Expr, engine.Expr) {
	switch op {
	case "=", "<>", "<", "<=", ">", ">=":
	default:
		return l, r
	}
	wall := func(t engine.Type) bool { return t == engine.Timestamp || t == engine.Date }
	switch {
	case wall(l.Type()) && r.Type() == engine.TimestampTZ:
		l = &engine.Cast{X: l, T: engine.TimestampTZ}
	case l.Type() == engine.TimestampTZ && wall(r.Type()):
		r = &engine.Cast{X: r, T: engine.TimestampTZ}
	}
	return l, r
}
