package engine

import (
	"strings"
)

func isOperatorName(name string) bool {
	switch name {
	case "+", "-", "*", "/", "%", "=", "<>", "!=", "<", "<=", ">", ">=", "||", "not", "neg", "^", "~", "!~", "~*", "!~*":
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
			return &Error{Code: CodeUndefinedFunction, Message: "operator does not exist: " + op + " " + args[0].String(),
				Hint: "No operator matches the given name and argument type. You might need to add an explicit type cast."}
		}
		if len(args) == 2 {
			return &Error{Code: CodeUndefinedFunction, Message: "operator does not exist: " + args[0].String() + " " + op + " " + args[1].String(),
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
	return &Error{Code: CodeUndefinedFunction, Message: b.String(),
		Hint: "No function matches the given name and argument types. You might need to add explicit type casts."}
}

// numRank orders number types for promotion: int2 < int4 < int8 < numeric < float4 < float8.
func numRank(t Type) int {
	switch t.ID {
	case TypeInt16:
		return 1
	case TypeInt32:
		return 2
	case TypeInt64:
		return 3
	case TypeNumeric:
		return 4
	case TypeFloat32:
		return 5
	case TypeFloat64:
		return 6
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
	if a.ID == TypeNumeric && (b.ID == TypeNumeric || b.IsInteger()) {
		return Numeric
	}
	if b.ID == TypeNumeric && a.IsInteger() {
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
		case res.IsNumeric() && a.IsNumeric():
			if numRank(a) > numRank(res) {
				res = a
			}
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

// CommonType returns the type PostgreSQL unifies args to (CASE, COALESCE, UNION, IN
// lists), or a 42804 error.
func CommonType(args []Type) (Type, error) {
	t, ok := commonType(args)
	if !ok {
		return Unknown, Errorf(CodeDatatypeMismatch, "types %s cannot be matched", typeList(args))
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

// ResolveFunc returns the result type of scalar function or operator name applied to
// arguments of types args, or a 42883 error when no overload exists. Unknown argument
// types (untyped literals) take the type of the other arguments.
func ResolveFunc(name string, args []Type) (Type, error) {
	name = strings.ToLower(name)
	orig := args
	a := fillUnknown(args)
	fail := func() (Type, error) { return Unknown, undefinedFunc(name, orig) }
	argc := func(n int) bool { return len(a) == n }
	switch name {
	case "+", "-":
		if argc(1) && name == "-" {
			return ResolveFunc("neg", args)
		}
		if !argc(2) {
			return fail()
		}
		x, y := a[0], a[1]
		// An untyped literal next to a timestamp/date in +/- is an interval (or int for dates).
		if orig[1].ID == TypeUnknown && (x.IsTime() || x.ID == TypeDate) {
			if x.ID == TypeDate {
				y = Int32
			} else {
				y = Interval
			}
			if name == "-" && orig[1].ID == TypeUnknown && x.IsTime() {
				y = Interval
			}
		}
		switch {
		case x.IsNumeric() && y.IsNumeric():
			return arithType(x, y), nil
		case x.IsTime() && y.ID == TypeInterval:
			return x, nil
		case name == "+" && x.ID == TypeInterval && y.IsTime():
			return y, nil
		case x.ID == TypeDate && y.IsInteger():
			return Date, nil
		case name == "+" && x.IsInteger() && y.ID == TypeDate:
			return Date, nil
		case x.ID == TypeDate && y.ID == TypeInterval:
			return Timestamp, nil
		case name == "+" && x.ID == TypeInterval && y.ID == TypeDate:
			return Timestamp, nil
		case name == "-" && x.ID == TypeDate && y.ID == TypeDate:
			return Int32, nil
		case name == "-" && x.IsTime() && y.IsTime():
			return Interval, nil
		case name == "-" && x.IsTime() && y.ID == TypeDate, name == "-" && x.ID == TypeDate && y.IsTime():
			return Interval, nil
		case x.ID == TypeInterval && y.ID == TypeInterval:
			return Interval, nil
		}
		return fail()
	case "*":
		if !argc(2) {
			return fail()
		}
		switch {
		case a[0].IsNumeric() && a[1].IsNumeric():
			return arithType(a[0], a[1]), nil
		case a[0].ID == TypeInterval && a[1].IsNumeric(), a[0].IsNumeric() && a[1].ID == TypeInterval:
			return Interval, nil
		}
		return fail()
	case "/":
		if !argc(2) {
			return fail()
		}
		switch {
		case a[0].IsNumeric() && a[1].IsNumeric():
			return arithType(a[0], a[1]), nil
		case a[0].ID == TypeInterval && a[1].IsNumeric():
			return Interval, nil
		}
		return fail()
	case "%", "mod":
		if !argc(2) {
			return fail()
		}
		x, y := a[0], a[1]
		if x.IsInteger() && y.IsInteger() {
			return arithType(x, y), nil
		}
		if (x.IsInteger() || x.ID == TypeNumeric) && (y.IsInteger() || y.ID == TypeNumeric) {
			return Numeric, nil
		}
		return fail()
	case "neg", "abs":
		if !argc(1) {
			return fail()
		}
		if a[0].IsNumeric() || a[0].ID == TypeInterval {
			return a[0], nil
		}
		return fail()
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		if argc(2) && a[0].ID == TypeTextArray && name != "=" && name != "<>" && name != "!=" {
			// arrays.go: the text form orders differently from PostgreSQL's element order
			return Type{}, Unsupported("operator " + name + " on arrays")
		}
		if argc(2) && comparableTypes(a[0], a[1]) && a[0].ID != TypeUnknown {
			return Bool, nil
		}
		return fail()
	case "||":
		if argc(2) && (a[0].ID == TypeText || a[1].ID == TypeText) && a[0].ID != TypeTextArray && a[1].ID != TypeTextArray {
			return Text, nil
		}
		return fail()
	case "not":
		if argc(1) && a[0].ID == TypeBool {
			return Bool, nil
		}
		return fail()
	case "array_to_string":
		// Over text[], or over a catalog column that is an array in PostgreSQL
		// (relacl, datacl: aclitem[]) and text in its array form in strata.
		if (argc(2) || argc(3)) && (a[0].ID == TypeTextArray || a[0].ID == TypeText) && allText(a[1:]) {
			return Text, nil
		}
		return fail()
	case "pg_get_expr":
		// deparses a stored expression (a column default); strata stores none
		if (argc(2) || argc(3)) && a[0].ID == TypeText {
			return Text, nil
		}
		return fail()
	case "pg_get_userbyid", "pg_encoding_to_char":
		if argc(1) && a[0].IsInteger() {
			return Text, nil
		}
		return fail()
	case "pg_table_is_visible":
		if argc(1) && a[0].IsInteger() {
			return Bool, nil
		}
		return fail()
	case "pg_size_pretty":
		if argc(1) && a[0].IsInteger() {
			return Text, nil
		}
		return fail()
	case "obj_description", "col_description", "shobj_description":
		// (oid[, catalog name or column number])
		if (argc(1) || argc(2)) && a[0].IsInteger() {
			return Text, nil
		}
		return fail()
	case "format_type":
		if argc(2) && a[0].IsInteger() && a[1].IsInteger() {
			return Text, nil
		}
		return fail()
	case "~", "!~", "~*", "!~*", "regexp_like":
		if (argc(2) || (name == "regexp_like" && argc(3))) && allText(a) {
			return Bool, nil
		}
		return fail()
	case "coalesce", "greatest", "least":
		if len(a) == 0 {
			return fail()
		}
		t, ok := commonType(args)
		if !ok {
			return Unknown, Errorf(CodeDatatypeMismatch, "%s types %s cannot be matched", strings.ToUpper(name), typeList(args))
		}
		return t, nil
	case "nullif":
		if argc(2) && comparableTypes(a[0], a[1]) {
			return a[0], nil
		}
		return fail()
	case "floor", "ceil", "ceiling", "sign":
		if !argc(1) || !a[0].IsNumeric() {
			return fail()
		}
		if a[0].ID == TypeNumeric {
			return Numeric, nil
		}
		return Float64, nil
	case "round", "trunc":
		if argc(1) && a[0].IsNumeric() {
			if a[0].ID == TypeNumeric {
				return Numeric, nil
			}
			return Float64, nil
		}
		if argc(2) && (a[0].ID == TypeNumeric || a[0].IsInteger()) && a[1].IsInteger() {
			return Numeric, nil
		}
		return fail()
	case "sqrt", "cbrt", "ln", "exp", "log10":
		if !argc(1) || !a[0].IsNumeric() {
			return fail()
		}
		if a[0].ID == TypeNumeric {
			return Numeric, nil
		}
		return Float64, nil
	case "log":
		if argc(1) && a[0].IsNumeric() {
			if a[0].ID == TypeNumeric {
				return Numeric, nil
			}
			return Float64, nil
		}
		if argc(2) && a[0].IsNumeric() && a[1].IsNumeric() {
			return Numeric, nil
		}
		return fail()
	case "power", "pow", "^":
		if !argc(2) || !a[0].IsNumeric() || !a[1].IsNumeric() {
			return fail()
		}
		if a[0].ID == TypeNumeric || a[1].ID == TypeNumeric {
			if a[0].ID != TypeFloat64 && a[1].ID != TypeFloat64 && a[0].ID != TypeFloat32 && a[1].ID != TypeFloat32 {
				return Numeric, nil
			}
		}
		return Float64, nil
	case "pi", "random":
		if argc(0) {
			return Float64, nil
		}
		return fail()
	case "lower", "upper", "btrim", "ltrim", "rtrim", "trim", "reverse", "initcap", "md5", "quote_ident":
		if len(a) >= 1 && len(a) <= 2 && allText(a) {
			if len(a) == 2 && (name == "lower" || name == "upper" || name == "reverse" || name == "initcap" || name == "md5" || name == "quote_ident") {
				return fail()
			}
			return Text, nil
		}
		return fail()
	case "length", "char_length", "character_length", "octet_length":
		if argc(1) && a[0].ID == TypeText {
			return Int32, nil
		}
		return fail()
	case "position", "strpos":
		if argc(2) && allText(a) {
			return Int32, nil
		}
		return fail()
	case "substr", "substring":
		if (argc(2) || argc(3)) && a[0].ID == TypeText && a[1].IsInteger() && (len(a) == 2 || a[2].IsInteger()) {
			return Text, nil
		}
		return fail()
	case "left", "right", "repeat":
		if argc(2) && a[0].ID == TypeText && a[1].IsInteger() {
			return Text, nil
		}
		return fail()
	case "replace":
		if argc(3) && allText(a) {
			return Text, nil
		}
		return fail()
	case "string_to_array_element", "string_to_array_length", "string_to_array_lower", "string_to_array_cardinality",
		"parse_ident_element", "parse_ident_length", "parse_ident_lower", "parse_ident_cardinality":
		// The array functions (series.go): the array's arguments (text), then the
		// subscript for _element.
		texts := 2
		if strings.HasPrefix(name, "parse_ident_") {
			texts = 1
		}
		elem := strings.HasSuffix(name, "_element")
		want := texts
		if elem {
			want++
		}
		if !argc(want) || !allText(a[:texts]) || elem && !a[texts].IsInteger() {
			return fail()
		}
		if elem {
			return Text, nil
		}
		return Int32, nil
	case "split_part":
		if argc(3) && a[0].ID == TypeText && a[1].ID == TypeText && a[2].IsInteger() {
			return Text, nil
		}
		return fail()
	case "concat":
		return Text, nil
	case "concat_ws":
		if len(a) >= 1 && a[0].ID == TypeText {
			return Text, nil
		}
		return fail()
	case "starts_with":
		if argc(2) && allText(a) {
			return Bool, nil
		}
		return fail()
	case "date_trunc":
		if !argc(2) || a[0].ID != TypeText {
			return fail()
		}
		switch a[1].ID {
		case TypeTimestamp, TypeTimestampTZ, TypeInterval:
			return a[1], nil
		case TypeDate:
			return TimestampTZ, nil
		}
		return fail()
	case "extract", "date_part":
		if !argc(2) || a[0].ID != TypeText {
			return fail()
		}
		switch a[1].ID {
		case TypeTimestamp, TypeTimestampTZ, TypeInterval, TypeDate:
			if name == "extract" {
				return Numeric, nil
			}
			return Float64, nil
		}
		return fail()
	case "to_char":
		if !argc(2) || a[1].ID != TypeText {
			return fail()
		}
		switch a[0].ID {
		case TypeTimestamp, TypeTimestampTZ, TypeDate:
			return Text, nil
		}
		if a[0].IsNumeric() {
			return Text, nil
		}
		return fail()
	case "to_timestamp":
		if argc(1) && a[0].IsNumeric() {
			return TimestampTZ, nil
		}
		return fail()
	case "now", "current_timestamp", "transaction_timestamp", "statement_timestamp", "clock_timestamp", "localtimestamp":
		if argc(0) {
			if name == "localtimestamp" {
				return Timestamp, nil
			}
			return TimestampTZ, nil
		}
		return fail()
	case "current_date":
		if argc(0) {
			return Date, nil
		}
		return fail()
	case "time_bucket":
		// TimescaleDB: time_bucket(width interval, ts)
		if argc(2) && a[0].ID == TypeInterval && a[1].IsTime() {
			return a[1], nil
		}
		return fail()
	case "date_bin":
		if argc(3) && a[0].ID == TypeInterval && a[1].IsTime() && a[2].IsTime() {
			return a[1], nil
		}
		return fail()
	case "time_floor":
		// Druid idiom: TIME_FLOOR(ts, 'PT5M').
		if argc(2) && a[0].IsTime() && a[1].ID == TypeText {
			return a[0], nil
		}
		return fail()
	}
	return fail()
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
		case TypeInt64, TypeNumeric:
			return Numeric, nil
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
		case a[0].IsInteger(), a[0].ID == TypeNumeric:
			return Numeric, nil
		case a[0].ID == TypeFloat32, a[0].ID == TypeFloat64:
			return Float64, nil
		case a[0].ID == TypeInterval:
			return Interval, nil
		}
	case "min", "max":
		if len(a) == 1 && a[0].ID != TypeBool {
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
	default:
		if t, ok := resolveStat(name, a); ok {
			return t, nil
		}
	}
	return fail()
}
