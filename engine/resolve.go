package engine

import (
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
)

func isOperatorName(name string) bool {
	switch name {
	case "+", "-", "*", "/", "%", "=", "<>", "!=", "<", "<=", ">", ">=", "||", "not", "neg", "^", "~", "!~", "~*", "!~*", "&", "|":
		return true
	}
	return false
}

// undefinedFunc returns PostgreSQL's 42883 error for name applied to args.
func undefinedFunc(name string, args []Type) *Error {
	if isOperatorName(name) {
		op := name
		if op == "neg" {
			op = "-"
		}
		if op == "not" {
			op = "NOT"
		}
		if len(args) == 1 {
			return &Error{Code: sqlstate.UndefinedFunction, Message: "operator does not exist: " + op + " " + args[0].String(),
				Hint: "No operator matches the given name and argument type. You might need to add an explicit type cast."}
		}
		if len(args) == 2 {
			return &Error{Code: sqlstate.UndefinedFunction, Message: "operator does not exist: " + args[0].String() + " " + op + " " + args[1].String(),
				Hint: "No operator matches the given name and argument types. You might need to add explicit type casts."}
		}
	}
	var b strings.Builder
	b.WriteString("function ")
	b.WriteString(name)
	b.WriteByte('(')
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteString(") does not exist")
	return &Error{Code: sqlstate.UndefinedFunction, Message: b.String(),
		Hint: "No function matches the given name and argument types. You might need to add explicit type casts."}
}

// numRank orders number types for promotion: int2 < int4 < int8 < numeric (exact
// decimal < double-precision numeric) < float4 < float8.
func numRank(t Type) int {
	switch t.ID {
	case TypeInt16:
		return 1
	case TypeInt32:
		return 2
	case TypeInt64:
		return 3
	case TypeDecimal:
		return 4
	case TypeNumeric:
		return 5
	case TypeFloat32:
		return 6
	case TypeFloat64:
		return 7
	}
	return 0
}

// arithType is the result type of + - * / % over two number types, as PostgreSQL
// resolves it (int2+int2 is int2 here; float4 mixed with anything but float4 is float8).
func arithType(a, b Type) Type {
	if a.IsInteger() && b.IsInteger() {
		if numRank(a) >= numRank(b) {
			return a
		}
		return b
	}
	if a.ID == TypeFloat32 && b.ID == TypeFloat32 {
		return Float32
	}
	exact := func(t Type) bool { return t.ID == TypeNumeric || t.ID == TypeDecimal || t.IsInteger() }
	if exact(a) && exact(b) { // a numeric (decimal.go types + - * over decimals before this)
		return Numeric
	}
	return Float64
}

// fillUnknown gives untyped (Unknown) arguments the type of the first typed one, or text.
func fillUnknown(args []Type) []Type {
	known := Unknown
	for _, a := range args {
		if a.ID != TypeUnknown {
			known = a
			break
		}
	}
	if known.ID == TypeUnknown {
		known = Text
	}
	out := make([]Type, len(args))
	for i, a := range args {
		if a.ID == TypeUnknown {
			a = known
		}
		out[i] = a
	}
	return out
}

// comparable reports whether values of a and b can be compared with = < etc.
func comparableTypes(a, b Type) bool {
	if a.IsNumeric() && b.IsNumeric() {
		return true
	}
	if (a.IsTime() || a.ID == TypeDate) && (b.IsTime() || b.ID == TypeDate) {
		return true
	}
	if a.ID == TypeText && b.ID == TypeText { // character(n) beside text or another length
		return true
	}
	return a == b
}

// commonType is the type coalesce/greatest/CASE branches unify to, or false.
func commonType(args []Type) (Type, bool) {
	res := Unknown
	for _, a := range args {
		if a.ID == TypeUnknown {
			continue
		}
		if res.ID == TypeUnknown {
			res = a
			continue
		}
		switch {
		case res == a:
		case res.IsDecimal() && a.IsDecimal():
			res = Decimal(0, int(max(res.Scale, a.Scale)))
		case res.IsNumeric() && a.IsNumeric():
			if numRank(a) > numRank(res) {
				res = a
			}
			if res.IsDecimal() { // an integer beside a decimal: no declared precision
				res.Prec = 0
			}
		case res.ID == TypeText && a.ID == TypeText: // character(n) beside text or another length
			res = Text
		case (res.IsTime() || res.ID == TypeDate) && (a.IsTime() || a.ID == TypeDate):
			if a.ID == TypeTimestampTZ || res.ID == TypeTimestampTZ {
				res = TimestampTZ
			} else {
				res = Timestamp
			}
		default:
			return Unknown, false
		}
	}
	if res.ID == TypeUnknown {
		res = Text
	}
	return res, true
}

// ResultType is CommonType for the values of CASE, COALESCE, GREATEST/LEAST, VALUES
// and UNION: where exact numbers of different scales meet (0.5 beside numeric(10,2),
// an integer beside a decimal) it is numeric, exact with each value's own scale as
// PostgreSQL prints it (numeric.go), not a decimal of the larger scale.
func ResultType(args []Type) (Type, error) {
	t, err := CommonType(args)
	if err != nil || !t.IsDecimal() {
		return t, err
	}
	for _, a := range args {
		if a.ID != TypeUnknown && (!a.IsDecimal() || a.Scale != t.Scale) {
			return Numeric, nil
		}
	}
	return t, nil
}

// CommonType returns the type PostgreSQL unifies args to (CASE, COALESCE, UNION, IN
// lists), or a 42804 error.
func CommonType(args []Type) (Type, error) {
	t, ok := commonType(args)
	if !ok {
		return Unknown, Errorf(sqlstate.DatatypeMismatch, "types %s cannot be matched", typeList(args))
	}
	return t, nil
}

func typeList(args []Type) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteString(" and ")
		}
		b.WriteString(a.String())
	}
	return b.String()
}

func allText(a []Type) bool {
	for _, t := range a {
		if t.ID != TypeText {
			return false
		}
	}
	return true
}

// ResolveAgg returns the result type of aggregate name over args, as PostgreSQL types it.
func ResolveAgg(name string, args []Type, distinct bool) (Type, error) {
	name = strings.ToLower(name)
	a := fillUnknown(args)
	fail := func() (Type, error) { return Unknown, undefinedFunc(name, args) }
	switch name {
	case "count":
		if len(a) <= 1 {
			return Int64, nil
		}
	case "approx_count_distinct":
		// Druid's name: a HyperLogLog estimate (hll.go).
		if len(a) == 1 {
			return Int64, nil
		}
	case "sum":
		if len(a) != 1 {
			break
		}
		switch a[0].ID {
		case TypeInt16, TypeInt32:
			return Int64, nil
		case TypeInt64, TypeNumeric, TypeDecimal:
			return Numeric, nil // a decimal's: exact past 18 digits (128-bit sums), at its scale
		case TypeFloat32:
			return Float32, nil
		case TypeFloat64:
			return Float64, nil
		case TypeInterval:
			return Interval, nil
		}
	case "avg":
		if len(a) != 1 {
			break
		}
		switch {
		case a[0].IsInteger(), a[0].ID == TypeNumeric, a[0].ID == TypeDecimal:
			return Numeric, nil
		case a[0].ID == TypeFloat32, a[0].ID == TypeFloat64:
			return Float64, nil
		case a[0].ID == TypeInterval:
			return Interval, nil
		}
	case "min", "max":
		if len(a) == 1 && a[0].ID != TypeBool && a[0].ID != TypeUUID { // PostgreSQL has no max(uuid)
			return a[0], nil
		}
	case "bool_and", "bool_or", "every":
		if len(a) == 1 && a[0].ID == TypeBool {
			return Bool, nil
		}
	case "percentile_cont":
		// bound from WITHIN GROUP (ORDER BY x) as (x, fraction)
		if len(a) == 2 && a[0].IsNumeric() && a[1].IsNumeric() {
			return Float64, nil
		}
	case "percentile_disc":
		if len(a) == 2 && a[1].IsNumeric() && (a[0].IsNumeric() || a[0].ID == TypeTimestamp || a[0].ID == TypeTimestampTZ || a[0].ID == TypeDate) {
			return a[0], nil
		}
	case "string_agg":
		if len(a) == 2 && a[0].ID == TypeText && a[1].ID == TypeText {
			return Text, nil
		}
	case "array_agg":
		if len(a) == 1 {
			if t, ok := ArrayOf(a[0]); ok {
				return t, nil
			}
		}
	case "mode":
		// bound from mode() WITHIN GROUP (ORDER BY x) as mode(x)
		if len(a) == 1 && a[0].ID != TypeUnknown {
			return a[0], nil
		}
	default:
		if t, ok := resolveStat(name, a); ok {
			return t, nil
		}
	}
	return fail()
}
