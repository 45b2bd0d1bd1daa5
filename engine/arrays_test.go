package engine

import (
	"errors"
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
)

// TestTextArrayFormat checks array_out's quoting (correlated.slt proves the same
// literals on PostgreSQL 15) and that ParseTextArray reads back what
// FormatTextArray prints.
func TestTextArrayFormat(t *testing.T) {
	elems := []ArrayElem{{S: "a"}, {S: "b c"}, {Null: true}, {S: "null"}, {S: ""}, {S: "x,y"}, {S: `q"`}, {S: `b\s`}, {S: "{"}, {S: "é"}}
	const want = `{a,"b c",NULL,"null","","x,y","q\"","b\\s","{",é}`
	got := FormatTextArray(elems)
	if got != want {
		t.Fatalf("FormatTextArray = %s, want %s", got, want)
	}
	back, err := ParseTextArray(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(elems) {
		t.Fatalf("read back %d elements, want %d", len(back), len(elems))
	}
	for i := range elems {
		if back[i] != elems[i] {
			t.Errorf("element %d: %+v, want %+v", i, back[i], elems[i])
		}
	}
	if FormatTextArray(nil) != "{}" {
		t.Errorf("empty array: %s", FormatTextArray(nil))
	}
}

func TestParseTextArray(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:                 `{}`,
		` { } `:              `{}`,
		`{ a , b }`:          `{a,b}`,
		`{a b,  c\ }`:        `{"a b","c "}`,
		`{NULL,"NULL",nULl}`: `{NULL,"NULL",NULL}`,
		`{"a\\b",x\,y}`:      `{"a\\b","x,y"}`,
	} {
		elems, err := ParseTextArray(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := FormatTextArray(elems); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	for in, code := range map[string]string{
		`abc`: sqlstate.InvalidTextRepresentation, `{a`: sqlstate.InvalidTextRepresentation, `{a,}`: sqlstate.InvalidTextRepresentation, `{a}x`: sqlstate.InvalidTextRepresentation,
		`{"a}`: sqlstate.InvalidTextRepresentation, `{a"b}`: sqlstate.InvalidTextRepresentation, `{{a}}`: sqlstate.FeatureNotSupported,
		`[1:1]={a}`: sqlstate.FeatureNotSupported,
	} {
		_, err := ParseTextArray(in)
		var ee *Error
		if !errors.As(err, &ee) || ee.Code != code {
			t.Errorf("%s: %v, want %s", in, err, code)
		}
	}
}
