package engine

import (
	"strconv"
	"strings"
)

// String methods render expressions as SQL-like text for EXPLAIN and messages.

func (e *ColRef) String() string {
	if e.Name != "" {
		return e.Name
	}
	return "$col" + strconv.Itoa(e.Index)
}

func (e *Const) String() string { return ValueString(e.V) }

// ValueString renders v as a SQL literal: NULL, 42, 'text', '2023-10-01 12:00:00'::timestamp.
func ValueString(v Value) string {
	if v.Null {
		return "NULL"
	}
	switch v.Type.ID {
	case TypeBool:
		if v.B {
			return "true"
		}
		return "false"
	case TypeInt16, TypeInt32, TypeInt64:
		return strconv.FormatInt(v.I, 10)
	case TypeDecimal:
		if v.I < 0 {
			return "'" + string(appendValueText(nil, v)) + "'::numeric"
		}
		return string(appendValueText(nil, v))
	case TypeFloat32, TypeFloat64, TypeNumeric:
		s := string(appendValueText(nil, v))
		if v.F < 0 || strings.ContainsAny(s, "aIe") {
			return "'" + s + "'::" + v.Type.String()
		}
		return s
	case TypeText, TypeUnknown:
		return quoteLiteral(v.S)
	}
	return quoteLiteral(string(appendValueText(nil, v))) + "::" + v.Type.String()
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

var opSymbols = map[string]string{"!=": "<>"}

func (e *Call) String() string {
	var b strings.Builder
	switch {
	case e.Func == "neg" && len(e.Args) == 1:
		b.WriteString("(- ")
		b.WriteString(e.Args[0].String())
		b.WriteByte(')')
	case e.Func == "not" && len(e.Args) == 1:
		b.WriteString("(NOT ")
		b.WriteString(e.Args[0].String())
		b.WriteByte(')')
	case isOperatorName(e.Func) && len(e.Args) == 2:
		op := e.Func
		if s, ok := opSymbols[op]; ok {
			op = s
		}
		b.WriteByte('(')
		b.WriteString(e.Args[0].String())
		b.WriteByte(' ')
		b.WriteString(op)
		b.WriteByte(' ')
		b.WriteString(e.Args[1].String())
		b.WriteByte(')')
	default:
		b.WriteString(e.Func)
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a.String())
		}
		b.WriteByte(')')
	}
	return b.String()
}

func (e *Cast) String() string {
	return "(" + e.X.String() + ")::" + e.T.String()
}

func (e *BoolOp) String() string {
	sep := " AND "
	if e.Op == Or {
		sep = " OR "
	}
	parts := make([]string, len(e.Args))
	for i, a := range e.Args {
		parts[i] = a.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range e.Whens {
		b.WriteString(" WHEN ")
		b.WriteString(w.Cond.String())
		b.WriteString(" THEN ")
		b.WriteString(w.Then.String())
	}
	if e.Else != nil {
		b.WriteString(" ELSE ")
		b.WriteString(e.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

func (e *IsNull) String() string {
	if e.Negated {
		return "(" + e.X.String() + " IS NOT NULL)"
	}
	return "(" + e.X.String() + " IS NULL)"
}

func (e *InList) String() string {
	var b strings.Builder
	b.WriteByte('(')
	b.WriteString(e.X.String())
	if e.Negated {
		b.WriteString(" NOT IN (")
	} else {
		b.WriteString(" IN (")
	}
	for i, a := range e.List {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteString("))")
	return b.String()
}

func (e *Like) String() string {
	op := " LIKE "
	if e.CaseInsensitive {
		op = " ILIKE "
	}
	if e.Negated {
		op = " NOT" + op
	}
	return "(" + e.X.String() + op + e.Pattern.String() + ")"
}

// String renders an aggregate call: count(*), sum(DISTINCT x) FILTER (WHERE c).
func (a *AggCall) String() string {
	var b strings.Builder
	b.WriteString(a.Func)
	b.WriteByte('(')
	if len(a.Args) == 0 {
		b.WriteByte('*')
	}
	if a.Distinct {
		b.WriteString("DISTINCT ")
	}
	for i, x := range a.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x.String())
	}
	b.WriteByte(')')
	if a.Filter != nil {
		b.WriteString(" FILTER (WHERE ")
		b.WriteString(a.Filter.String())
		b.WriteByte(')')
	}
	return b.String()
}
