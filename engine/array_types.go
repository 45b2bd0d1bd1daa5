package engine

import "time"

// Arrays of every element type (types.go's Type…Array): what array_agg returns.
// Like text[] (arrays.go) a value is its text form as array_out prints it, its
// elements in their types' output form; the wire layer sends that text, or
// array_send's binary form built element by element (ArrayElemType tells it the
// element type). Only one-dimensional arrays with lower bound 1 exist.

var arrayOf = map[TypeID]TypeID{
	TypeText: TypeTextArray, TypeBool: TypeBoolArray, TypeInt16: TypeInt16Array, TypeInt32: TypeInt32Array,
	TypeInt64: TypeInt64Array, TypeFloat32: TypeFloat32Array, TypeFloat64: TypeFloat64Array,
	TypeNumeric: TypeNumericArray, TypeTimestamp: TypeTimestampArray, TypeTimestampTZ: TypeTimestampTZArray,
	TypeDate: TypeDateArray, TypeInterval: TypeIntervalArray, TypeUUID: TypeUUIDArray,
}

var elemOf = func() map[TypeID]TypeID {
	m := map[TypeID]TypeID{}
	for e, a := range arrayOf {
		m[a] = e
	}
	return m
}()

// ArrayOf is the array type of elements of type t.
func ArrayOf(t Type) (Type, bool) {
	if t.IsDecimal() {
		return Type{ID: TypeNumericArray}, true // elements in their text form, exact
	}
	a, ok := arrayOf[t.ID]
	return Type{ID: a}, ok
}

// ArrayElemType is the element type of array type t; false when t is no array.
func ArrayElemType(t Type) (Type, bool) {
	e, ok := elemOf[t.ID]
	return Type{ID: e}, ok
}

// IsArray reports whether t is an array type.
func (t Type) IsArray() bool { _, ok := elemOf[t.ID]; return ok }

// FormatArray is array_out of vals, values of one element type: a timestamptz
// printed in loc (nil: UTC), as the session's TimeZone prints it.
func FormatArray(vals []Value, loc *time.Location) string {
	elems := make([]ArrayElem, len(vals))
	for k, v := range vals {
		switch {
		case v.Null:
			elems[k].Null = true
		case v.Type.ID == TypeTimestampTZ && loc != nil:
			elems[k].S = string(appendTimestampIn(nil, v.I, loc))
		default:
			elems[k].S = string(appendValueText(nil, v))
		}
	}
	return FormatTextArray(elems)
}

// parseArrayIn reads an array literal of array type t ('{1, 2,NULL}'::int[]):
// each element is read as the element type (a timestamptz in loc) and the value
// kept in array_out's form of the elements' output.
func parseArrayIn(s string, t Type, loc *time.Location) (Value, error) {
	v := Value{Type: t}
	elem, _ := ArrayElemType(t)
	elems, err := ParseTextArray(s)
	if err != nil {
		return v, err
	}
	for i, e := range elems {
		if e.Null {
			continue
		}
		ev, err := ParseValueIn(e.S, elem, loc)
		if err != nil {
			return v, err
		}
		if elem.ID == TypeTimestampTZ && loc != nil {
			elems[i].S = string(appendTimestampIn(nil, ev.I, loc))
		} else {
			elems[i].S = string(appendValueText(nil, ev))
		}
	}
	v.S = FormatTextArray(elems)
	return v, nil
}
