package engine

import "strconv"

// Type modifiers in PostgreSQL's encoding (pg_attribute.atttypmod, -1 for none),
// as format_type prints them and information_schema reads them.

// VarHdrSz is PostgreSQL's VARHDRSZ, added to a varchar's or numeric's modifier.
const VarHdrSz = 4

// VarcharLength is n of varchar(n) for modifier typmod; false for none.
func VarcharLength(typmod int64) (int64, bool) {
	if typmod < VarHdrSz {
		return 0, false
	}
	return typmod - VarHdrSz, true
}

// NumericPrecScale are p and s of numeric(p,s) for modifier typmod (the scale
// sign-extended from 11 bits, as PostgreSQL 15 stores it); false for none.
func NumericPrecScale(typmod int64) (prec, scale int64, ok bool) {
	if typmod < VarHdrSz {
		return 0, 0, false
	}
	t := typmod - VarHdrSz
	return t >> 16 & 0xffff, (t&0x7ff ^ 1024) - 1024, true
}

// formatTypeMod is format_type(oid, typmod) for the types whose modifier changes
// the name, as PostgreSQL's format_type_extended prints them; ok is false for
// every other type or no modifier (the plain name applies).
func formatTypeMod(oid, typmod int64) (string, bool) {
	if typmod < 0 {
		return "", false
	}
	switch oid {
	case 1043: // varchar
		if n, ok := VarcharLength(typmod); ok {
			return "character varying(" + strconv.FormatInt(n, 10) + ")", true
		}
	case 1042: // bpchar
		if n, ok := VarcharLength(typmod); ok {
			return "character(" + strconv.FormatInt(n, 10) + ")", true
		}
	case 1700: // numeric
		if p, s, ok := NumericPrecScale(typmod); ok {
			return "numeric(" + strconv.FormatInt(p, 10) + "," + strconv.FormatInt(s, 10) + ")", true
		}
	case 1114: // timestamp
		return "timestamp(" + strconv.FormatInt(typmod, 10) + ") without time zone", true
	case 1184: // timestamptz
		return "timestamp(" + strconv.FormatInt(typmod, 10) + ") with time zone", true
	}
	return "", false
}
