package sql

import (
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
)

// Type modifiers of columns: varchar(n) and numeric(p[,s]) keep what they were
// declared with (storage.Column.TypMod, in PostgreSQL's atttypmod encoding) so
// that pg_attribute.atttypmod, format_type (psql's \d) and
// information_schema.columns show them as PostgreSQL does, and INSERT, UPDATE and
// upserts check varchar(n) lengths (checkWrite). Other types' modifiers
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
	if len(tn.Typmods) == 0 || (sqlType != "varchar" && sqlType != "bpchar" && baseSQLType(sqlType) != "numeric") {
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
	if sqlType == "varchar" || sqlType == "bpchar" {
		name := map[string]string{"varchar": "varchar", "bpchar": "char"}[sqlType]
		switch n := mods[0]; {
		case len(mods) != 1:
			return 0, invalid("invalid type modifier")
		case n < 1:
			return 0, invalid("length for type %s must be at least 1", name)
		case n > maxVarcharLength:
			return 0, invalid("length for type %s cannot exceed %d", name, maxVarcharLength)
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

// varcharMax is n of a varchar(n) or character(n) column; false for any other
// column.
func varcharMax(c storage.Column) (int, bool) {
	if c.SQLType != "varchar" && c.SQLType != "bpchar" || c.TypMod == 0 {
		return 0, false
	}
	n, _ := engine.VarcharLength(int64(c.TypMod))
	return int(n), true
}

// fitVarchar is s stored into varchar(n): s itself when it has at most n
// characters, its first n when the rest is spaces (PostgreSQL's varchar), else
// false (22001).
func fitVarchar(s string, n int) (string, bool) {
	off, k := 0, 0
	for off < len(s) && k < n {
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
		k++
	}
	if off == len(s) {
		return s, true
	}
	if strings.Trim(s[off:], " ") != "" {
		return "", false
	}
	return s[:off], true
}

// castVarcharLength is n of a cast to varchar(n) or character(n); false for any
// other type name.
func castVarcharLength(tn *pg.TypeName) (int64, bool) {
	if tn.GetNames() == nil || len(tn.ArrayBounds) > 0 || len(tn.Typmods) != 1 ||
		tn.Names[len(tn.Names)-1].GetString_().GetSval() != "varchar" && tn.Names[len(tn.Names)-1].GetString_().GetSval() != "bpchar" {
		return 0, false
	}
	n := int64(tn.Typmods[0].GetAConst().GetIval().GetIval())
	return n, n >= 1
}
