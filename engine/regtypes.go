package engine

import (
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// Object-identifier types: oid, regclass, regtype, regproc, regprocedure,
// regnamespace, regrole and regoper. As in PostgreSQL each is an unsigned 32-bit
// oid under another name; strata keeps it as a bigint (Type{ID: TypeInt64, Reg:
// …}), so it compares, joins, groups and casts as one, while clients see the
// reg type's OID in RowDescription, 4 bytes in binary, and its text form: the
// object's name (the oid itself when no object has it, as PostgreSQL prints an
// unknown oid). No arithmetic: PostgreSQL has no operators for them.
//
// The names of types, functions and schemas are the same for every database and
// come from here; those of relations and roles (and schemas, for the schemas the
// SQL layer defines) come from Options.RegNames, which the SQL layer supplies per
// statement: casts to text read it through the evaluator, and a result's reg
// columns leave as RegArray, which carries it to AppendText and the wire layer.

// RegKind says which object-identifier type a TypeInt64 is (0: a plain bigint).
type RegKind uint8

const (
	RegNone RegKind = iota
	RegOID
	RegClass
	RegType
	RegProc
	RegProcedure
	RegNamespace
	RegRole
	RegOper
)

var regInfo = [...]struct {
	name string
	oid  uint32
}{
	RegOID:       {"oid", 26},
	RegClass:     {"regclass", 2205},
	RegType:      {"regtype", 2206},
	RegProc:      {"regproc", 24},
	RegProcedure: {"regprocedure", 2202},
	RegNamespace: {"regnamespace", 4089},
	RegRole:      {"regrole", 4096},
	RegOper:      {"regoper", 2203},
}

// OIDType is the type oid; RegTypeOf the type of each reg kind.
var OIDType = Type{ID: TypeInt64, Reg: RegOID}

// RegTypeOf returns the object-identifier type of kind k.
func RegTypeOf(k RegKind) Type { return Type{ID: TypeInt64, Reg: k} }

func regByName(name string) (Type, bool) {
	for k, info := range regInfo {
		if k != 0 && info.name == name {
			return RegTypeOf(RegKind(k)), true
		}
	}
	return Unknown, false
}

// IsOIDType reports whether t is oid or a reg type.
func (t Type) IsOIDType() bool { return t.Reg != 0 }

// RegNamer names the objects whose names depend on the database (relations,
// roles, the SQL layer's schemas): ok false when it knows none with that oid.
type RegNamer func(k RegKind, oid int64) (name string, ok bool)

// RegText is PostgreSQL's text output of oid as a value of type t (a reg type):
// the object's name from names (may be nil) or strata's own tables, else the
// number.
func RegText(t Type, oid int64, names RegNamer) string {
	if names != nil {
		if s, ok := names(t.Reg, oid); ok {
			return s
		}
	}
	switch t.Reg {
	case RegType:
		if s, ok := typeNamesByOID[oid]; ok {
			return s
		}
	case RegProc, RegProcedure:
		if oid == 0 {
			return "-"
		}
		if p, ok := ProcByOID(oid); ok {
			if t.Reg == RegProc {
				return p.Name
			}
			s := p.Name + "("
			for j, a := range p.Args {
				if j > 0 {
					s += ","
				}
				s += a.Name
			}
			return s + ")"
		}
	case RegClass, RegNamespace, RegRole, RegOper:
		if oid == 0 {
			return "-"
		}
	}
	return strconv.FormatInt(oid, 10)
}

// RegArray is a result column of a reg type: the oids, with the names of the
// statement's database to print them by.
type RegArray struct {
	*array.Int64
	Names RegNamer
}

// regResult wraps a result column of reg type t for its client.
func regResult(arr *array.Int64, names RegNamer) *RegArray {
	return &RegArray{Int64: arr, Names: names}
}

// castRegText is x (a reg type) cast to text with the statement's names.
func castRegText(x *vec, names RegNamer) *vec {
	out := newVec(Text, x.n)
	out.nulls = x.nulls
	for i := 0; i < x.n; i++ {
		if !x.isNull(i) {
			out.s[i] = RegText(x.t, x.i[i], names)
		}
	}
	return out
}
