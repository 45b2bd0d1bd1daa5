package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// Type modifiers of columns: varchar(n) and numeric(p[,s]) keep what they were
// declared with (storage.Column.TypMod, in PostgreSQL's atttypmod encoding) so
// that pg_attribute.atttypmod, format_type (psql's \d) and
// information_schema.columns show them as PostgreSQL does. Other types' modifiers
// (timestamp(3)) are accepted and not kept.

const (
	maxVarcharLength = 10485760
	maxNumericPrec   = 1000
	minNumericScale  = -1000
	maxNumericScale  = 1000
)

// columnTypMod is the modifier of a column declared as tn, whose canonical type is
// sqlType, as PostgreSQL's typmodin functions compute it and with their errors
// (22023); 0 when the type has none or strata keeps none.
func columnTypMod(tn *pg.TypeName, sqlType string) (int32, error) {
	if len(tn.Typmods) == 0 || (sqlType != "varchar" && baseSQLType(sqlType) != "numeric") {
		return 0, nil
	}
	var mods []int64
	for _, m := range tn.Typmods {
		c := m.GetAConst()
		if c == nil || c.GetIval() == nil {
			return 0, posErr(engine.Errorf(sqlstate.InvalidParameterValue, "type modifiers must be simple constants or identifiers"), tn.Location)
		}
		mods = append(mods, int64(c.GetIval().GetIval()))
	}
	invalid := func(format string, args ...any) error {
		return posErr(engine.Errorf(sqlstate.InvalidParameterValue, format, args...), tn.Location)
	}
	if sqlType == "varchar" {
		switch n := mods[0]; {
		case len(mods) != 1:
			return 0, invalid("invalid type modifier")
		case n < 1:
			return 0, invalid("length for type varchar must be at least 1")
		case n > maxVarcharLength:
			return 0, invalid("length for type varchar cannot exceed %d", maxVarcharLength)
		default:
			return int32(n + engine.VarHdrSz), nil
		}
	}
	if len(mods) > 2 {
		return 0, invalid("invalid NUMERIC type modifier")
	}
	prec, scale := mods[0], int64(0)
	if len(mods) == 2 {
		scale = mods[1]
	}
	if prec < 1 || prec > maxNumericPrec {
		return 0, invalid("NUMERIC precision %d must be between 1 and %d", prec, maxNumericPrec)
	}
	if scale < minNumericScale || scale > maxNumericScale {
		return 0, invalid("NUMERIC scale %d must be between %d and %d", scale, minNumericScale, maxNumericScale)
	}
	return int32(prec<<16|scale&0x7ff) + engine.VarHdrSz, nil
}

// atttypmod is pg_attribute.atttypmod of a column with stored modifier m
// (storage.Column.TypMod): -1 for none.
func atttypmod(m int32) int64 {
	if m == 0 {
		return -1
	}
	return int64(m)
}
