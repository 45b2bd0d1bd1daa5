package lake

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// DataType is a Delta (Spark) data type as written in schemaString.
type DataType struct {
	// Name is the primitive name ("long", "string", "decimal", "timestamp_ntz", …) or
	// "struct", "array", "map".
	Name              string
	Precision         int // decimal
	Scale             int // decimal
	Fields            []Field
	Element           *DataType // array
	ContainsNull      bool
	Key, Value        *DataType // map
	ValueContainsNull bool
}

// Field is one field of a struct type.
type Field struct {
	Name     string                     `json:"name"`
	Type     *DataType                  `json:"type"`
	Nullable bool                       `json:"nullable"`
	Metadata map[string]json.RawMessage `json:"metadata,omitempty"`
}

var primitiveTypes = map[string]bool{
	"string": true, "long": true, "integer": true, "short": true, "byte": true,
	"float": true, "double": true, "boolean": true, "binary": true, "date": true,
	"timestamp": true, "timestamp_ntz": true, "void": true, "variant": true,
}

// UnmarshalJSON accepts a primitive name string or a nested type object.
func (t *DataType) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		return t.parsePrimitive(name)
	}
	var obj struct {
		Type              string    `json:"type"`
		Fields            []Field   `json:"fields"`
		ElementType       *DataType `json:"elementType"`
		ContainsNull      bool      `json:"containsNull"`
		KeyType           *DataType `json:"keyType"`
		ValueType         *DataType `json:"valueType"`
		ValueContainsNull bool      `json:"valueContainsNull"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("schema type: %w", err)
	}
	switch obj.Type {
	case "struct":
		*t = DataType{Name: "struct", Fields: obj.Fields}
		for _, f := range obj.Fields {
			if f.Type == nil {
				return fmt.Errorf("schema: field %q has no type", f.Name)
			}
		}
	case "array":
		if obj.ElementType == nil {
			return fmt.Errorf("schema: array without elementType")
		}
		*t = DataType{Name: "array", Element: obj.ElementType, ContainsNull: obj.ContainsNull}
	case "map":
		if obj.KeyType == nil || obj.ValueType == nil {
			return fmt.Errorf("schema: map without keyType/valueType")
		}
		*t = DataType{Name: "map", Key: obj.KeyType, Value: obj.ValueType, ValueContainsNull: obj.ValueContainsNull}
	default:
		return fmt.Errorf("schema: unknown type %q", obj.Type)
	}
	return nil
}

func (t *DataType) parsePrimitive(name string) error {
	if primitiveTypes[name] {
		*t = DataType{Name: name}
		return nil
	}
	// decimal(p,s) and decimal(p, s); bare "decimal" is decimal(10,0) in Spark.
	if name == "decimal" {
		*t = DataType{Name: "decimal", Precision: 10}
		return nil
	}
	if strings.HasPrefix(name, "decimal(") && strings.HasSuffix(name, ")") {
		ps := strings.Split(name[len("decimal("):len(name)-1], ",")
		if len(ps) == 2 {
			p, err1 := strconv.Atoi(strings.TrimSpace(ps[0]))
			s, err2 := strconv.Atoi(strings.TrimSpace(ps[1]))
			if err1 == nil && err2 == nil && p >= 1 && p <= 38 && s >= 0 && s <= p {
				*t = DataType{Name: "decimal", Precision: p, Scale: s}
				return nil
			}
		}
	}
	return fmt.Errorf("schema: unknown type %q", name)
}

func (t *DataType) String() string {
	switch t.Name {
	case "decimal":
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	case "array":
		return "array<" + t.Element.String() + ">"
	case "map":
		return "map<" + t.Key.String() + "," + t.Value.String() + ">"
	case "struct":
		var b strings.Builder
		b.WriteString("struct<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f.Name + ":" + f.Type.String())
		}
		b.WriteString(">")
		return b.String()
	}
	return t.Name
}

// ParseSchema parses metaData.schemaString; the top level must be a struct.
func ParseSchema(s string) (*DataType, error) {
	var t DataType
	if err := json.Unmarshal([]byte(s), &t); err != nil {
		return nil, err
	}
	if t.Name != "struct" {
		return nil, fmt.Errorf("schema: top level is %s, not a struct", t.Name)
	}
	seen := map[string]bool{}
	for _, f := range t.Fields {
		k := strings.ToLower(f.Name)
		if seen[k] {
			return nil, fmt.Errorf("schema: column %q appears twice", f.Name)
		}
		seen[k] = true
	}
	return &t, nil
}

// Column mapping modes (delta.columnMapping.mode).
const (
	MappingNone = "none"
	MappingName = "name"
	MappingID   = "id"
)

// PhysicalName is the name of the field in data files and in partitionValues/stats:
// delta.columnMapping.physicalName under column mapping, else the logical name.
func (f *Field) PhysicalName(mode string) string {
	if mode != MappingNone {
		var s string
		if json.Unmarshal(f.Metadata["delta.columnMapping.physicalName"], &s) == nil && s != "" {
			return s
		}
	}
	return f.Name
}

// FieldID is delta.columnMapping.id, the Parquet field_id in mode "id".
func (f *Field) FieldID() (int64, bool) {
	var id int64
	if err := json.Unmarshal(f.Metadata["delta.columnMapping.id"], &id); err != nil {
		return 0, false
	}
	return id, true
}

// ArrowType is the Arrow type the reader produces for a Delta type: timestamps are
// microseconds (UTC for "timestamp", zone-less for "timestamp_ntz"), dates are
// date32, decimals decimal128. Struct children carry logical names.
func (t *DataType) ArrowType() (arrow.DataType, error) {
	switch t.Name {
	case "string":
		return arrow.BinaryTypes.String, nil
	case "binary":
		return arrow.BinaryTypes.Binary, nil
	case "long":
		return arrow.PrimitiveTypes.Int64, nil
	case "integer":
		return arrow.PrimitiveTypes.Int32, nil
	case "short":
		return arrow.PrimitiveTypes.Int16, nil
	case "byte":
		return arrow.PrimitiveTypes.Int8, nil
	case "float":
		return arrow.PrimitiveTypes.Float32, nil
	case "double":
		return arrow.PrimitiveTypes.Float64, nil
	case "boolean":
		return arrow.FixedWidthTypes.Boolean, nil
	case "date":
		return arrow.FixedWidthTypes.Date32, nil
	case "timestamp":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil
	case "timestamp_ntz":
		return &arrow.TimestampType{Unit: arrow.Microsecond}, nil
	case "decimal":
		return &arrow.Decimal128Type{Precision: int32(t.Precision), Scale: int32(t.Scale)}, nil
	case "void":
		return arrow.Null, nil
	case "struct":
		fs := make([]arrow.Field, len(t.Fields))
		for i, f := range t.Fields {
			ft, err := f.Type.ArrowType()
			if err != nil {
				return nil, err
			}
			fs[i] = arrow.Field{Name: f.Name, Type: ft, Nullable: true}
		}
		return arrow.StructOf(fs...), nil
	case "array":
		et, err := t.Element.ArrowType()
		if err != nil {
			return nil, err
		}
		return arrow.ListOf(et), nil
	case "map":
		kt, err := t.Key.ArrowType()
		if err != nil {
			return nil, err
		}
		vt, err := t.Value.ArrowType()
		if err != nil {
			return nil, err
		}
		return arrow.MapOf(kt, vt), nil
	}
	return nil, fmt.Errorf("type %s is not supported by the reader", t.Name)
}
