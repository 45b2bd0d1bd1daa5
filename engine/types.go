package engine

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// TypeID names a SQL type the engine computes with. Several SQL types share one
// physical Arrow representation (all integers and exact numeric are int64, floats and
// unconstrained numeric are float64); the TypeID is kept so that clients see PostgreSQL's type and OID and so
// that operators follow PostgreSQL's rules (integer division, result types).
type TypeID uint8

const (
	TypeUnknown     TypeID = iota // the type of a bare NULL or an untyped string literal before binding
	TypeBool                      // arrow Boolean
	TypeInt16                     // arrow Int64
	TypeInt32                     // arrow Int64
	TypeInt64                     // arrow Int64
	TypeFloat32                   // arrow Float64
	TypeFloat64                   // arrow Float64
	TypeNumeric                   // arrow Float64: numeric without a fixed scale, computed in double precision
	TypeText                      // arrow String, or arrow Dictionary(uint32 → String) straight from a scan
	TypeTimestamp                 // arrow Timestamp(µs), no zone
	TypeTimestampTZ               // arrow Timestamp(µs, "UTC")
	TypeDate                      // arrow Date32
	TypeInterval                  // arrow MonthDayNanoInterval
	TypeTextArray                 // arrow String holding the array's text form, "{a,\"b c\"}" (arrays.go)
	// Arrays of the other element types, as array_agg returns them; like text[],
	// an arrow String holding the array's text form (array_types.go).
	TypeBoolArray
	TypeInt16Array
	TypeInt32Array
	TypeInt64Array
	TypeFloat32Array
	TypeFloat64Array
	TypeNumericArray
	TypeTimestampArray
	TypeTimestampTZArray
	TypeDateArray
	TypeIntervalArray
	// TypeDecimal is exact numeric with a fixed scale (decimal.go): arrow Int64
	// holding value × 10^Scale. Clients see numeric (OID 1700).
	TypeDecimal
	// TypeUUID is uuid (uuid.go): arrow String holding the canonical text form
	// (internal/pguuid), which orders, hashes and groups as PostgreSQL's 16 bytes do.
	TypeUUID
	// TypeUUIDArray is uuid[], an arrow String holding its text form, as the other
	// arrays (array_types.go).
	TypeUUIDArray
)

// Type is a SQL type. It is a small value; compare with ==.
type Type struct {
	ID TypeID
	// Prec and Scale are numeric(Prec, Scale) of a TypeDecimal (zero otherwise).
	// Prec 0 is a computed decimal with no declared precision: it holds any value
	// whose scaled form fits in int64.
	Prec, Scale uint8
	// Reg is set on a TypeInt64 that is an object identifier (oid, regclass,
	// regtype, ...; regtypes.go): kept as a bigint, named and printed as its type.
	Reg RegKind
	// Pad is n of character(n) (bpchar.go) on a TypeText, 0 otherwise.
	Pad uint32
}

var (
	Unknown     = Type{ID: TypeUnknown}
	Bool        = Type{ID: TypeBool}
	Int16       = Type{ID: TypeInt16}
	Int32       = Type{ID: TypeInt32}
	Int64       = Type{ID: TypeInt64}
	Float32     = Type{ID: TypeFloat32}
	Float64     = Type{ID: TypeFloat64}
	Numeric     = Type{ID: TypeNumeric}
	Text        = Type{ID: TypeText}
	Timestamp   = Type{ID: TypeTimestamp}
	TimestampTZ = Type{ID: TypeTimestampTZ}
	Date        = Type{ID: TypeDate}
	Interval    = Type{ID: TypeInterval}
	TextArray   = Type{ID: TypeTextArray}
	UUID        = Type{ID: TypeUUID}
)

var typeInfo = [...]struct {
	name string // PostgreSQL's format_type spelling
	oid  uint32
	size int16 // pg_type.typlen
}{
	TypeUnknown:     {"unknown", 705, -2},
	TypeBool:        {"boolean", 16, 1},
	TypeInt16:       {"smallint", 21, 2},
	TypeInt32:       {"integer", 23, 4},
	TypeInt64:       {"bigint", 20, 8},
	TypeFloat32:     {"real", 700, 4},
	TypeFloat64:     {"double precision", 701, 8},
	TypeNumeric:     {"numeric", 1700, -1},
	TypeText:        {"text", 25, -1},
	TypeTimestamp:   {"timestamp without time zone", 1114, 8},
	TypeTimestampTZ: {"timestamp with time zone", 1184, 8},
	TypeDate:        {"date", 1082, 4},
	TypeInterval:    {"interval", 1186, 16},
	TypeTextArray:   {"text[]", 1009, -1},

	TypeBoolArray:        {"boolean[]", 1000, -1},
	TypeInt16Array:       {"smallint[]", 1005, -1},
	TypeInt32Array:       {"integer[]", 1007, -1},
	TypeInt64Array:       {"bigint[]", 1016, -1},
	TypeFloat32Array:     {"real[]", 1021, -1},
	TypeFloat64Array:     {"double precision[]", 1022, -1},
	TypeNumericArray:     {"numeric[]", 1231, -1},
	TypeTimestampArray:   {"timestamp without time zone[]", 1115, -1},
	TypeTimestampTZArray: {"timestamp with time zone[]", 1185, -1},
	TypeDateArray:        {"date[]", 1182, -1},
	TypeIntervalArray:    {"interval[]", 1187, -1},
	TypeDecimal:          {"numeric", 1700, -1},
	TypeUUID:             {"uuid", 2950, 16},
	TypeUUIDArray:        {"uuid[]", 2951, -1},
}

// String returns PostgreSQL's name for the type, as format_type prints it.
func (t Type) String() string {
	if t.Reg != 0 {
		return regInfo[t.Reg].name
	}
	if t.Pad != 0 {
		return "character"
	}
	if int(t.ID) < len(typeInfo) {
		return typeInfo[t.ID].name
	}
	return fmt.Sprintf("type(%d)", t.ID)
}

// OID returns the PostgreSQL type OID clients expect in RowDescription.
func (t Type) OID() uint32 {
	if t.Reg != 0 {
		return regInfo[t.Reg].oid
	}
	if t.Pad != 0 {
		return bpcharOID
	}
	return typeInfo[t.ID].oid
}

// Size returns pg_type.typlen: the fixed width in bytes, or -1 for variable length.
func (t Type) Size() int16 {
	if t.Reg != 0 {
		return 4
	}
	return typeInfo[t.ID].size
}

// IsInteger reports whether t is smallint, integer or bigint.
func (t Type) IsInteger() bool {
	return t.ID == TypeInt16 || t.ID == TypeInt32 || t.ID == TypeInt64
}

// IsNumeric reports whether t is any number type.
func (t Type) IsNumeric() bool {
	return t.IsInteger() || t.ID == TypeFloat32 || t.ID == TypeFloat64 || t.ID == TypeNumeric || t.ID == TypeDecimal
}

// IsTime reports whether t is timestamp or timestamptz.
func (t Type) IsTime() bool { return t.ID == TypeTimestamp || t.ID == TypeTimestampTZ }

// Arrow returns the physical Arrow type of a materialized value of type t. A scan may
// also deliver TypeText as a Dictionary array; every operator accepts both.
func (t Type) Arrow() arrow.DataType {
	switch t.ID {
	case TypeBool:
		return arrow.FixedWidthTypes.Boolean
	case TypeInt16, TypeInt32, TypeInt64, TypeDecimal:
		return arrow.PrimitiveTypes.Int64
	case TypeFloat32, TypeFloat64, TypeNumeric:
		return arrow.PrimitiveTypes.Float64
	case TypeText, TypeTextArray, TypeUUID:
		return arrow.BinaryTypes.String
	case TypeBoolArray, TypeInt16Array, TypeInt32Array, TypeInt64Array, TypeFloat32Array, TypeFloat64Array,
		TypeNumericArray, TypeTimestampArray, TypeTimestampTZArray, TypeDateArray, TypeIntervalArray, TypeUUIDArray:
		return arrow.BinaryTypes.String
	case TypeTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case TypeTimestampTZ:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case TypeDate:
		return arrow.FixedWidthTypes.Date32
	case TypeInterval:
		return arrow.FixedWidthTypes.MonthDayNanoInterval
	}
	return arrow.Null
}

// TypeByName maps a PostgreSQL type name as written in SQL (CAST targets, column
// definitions; already lower case, without modifiers) to a Type.
func TypeByName(name string) (Type, bool) {
	if t, ok := DecimalByName(name); ok { // a stored column's "numeric(10,2)"
		return t, true
	}
	if t, ok := regByName(name); ok {
		return t, true
	}
	switch name {
	case "bool", "boolean":
		return Bool, true
	case "int2", "smallint":
		return Int16, true
	case "int4", "int", "integer", "serial":
		return Int32, true
	case "int8", "bigint", "bigserial":
		return Int64, true
	case "float4", "real":
		return Float32, true
	case "float8", "float", "double precision", "double":
		return Float64, true
	case "numeric", "decimal":
		return Numeric, true
	case "text", "varchar", "character varying", "char", "character", "bpchar", "name", "string":
		return Text, true
	case "timestamp", "timestamp without time zone":
		return Timestamp, true
	case "timestamptz", "timestamp with time zone":
		return TimestampTZ, true
	case "date":
		return Date, true
	case "interval":
		return Interval, true
	case "uuid":
		return UUID, true
	}
	return Unknown, false
}

// Field is one output column of a plan.
type Field struct {
	Name string
	Type Type
}

// Value is one scalar: a literal, a bound parameter, a folded constant.
// Exactly one payload field is meaningful, chosen by Type (ints, timestamps as µs and
// dates as days in I; floats in F; text in S; booleans in B; intervals in Months,
// Days and I as µs).
type Value struct {
	Type   Type
	Null   bool
	I      int64
	F      float64
	S      string
	B      bool
	Months int32
	Days   int32
}

// NullValue returns a NULL of type t.
func NullValue(t Type) Value { return Value{Type: t, Null: true} }
