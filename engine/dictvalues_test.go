package engine

import (
	"fmt"
	"testing"
)

// plainDict is a dictionary without storage.DictValues, as a real-time head's is.
type plainDict struct{ memDict }

func (d *plainDict) Values() {} // shadows memDict.Values: not a storage.DictValues

// TestDictValues checks that a dictionary's own value slice is used as is and that
// any other dictionary is decoded value by value.
func TestDictValues(t *testing.T) {
	d := &memDict{vals: []string{"a", "b", "c"}}
	if v := dictValues(d); fmt.Sprint(v) != "[a b c]" || &v[0] != &d.vals[0] {
		t.Fatalf("DictValues not used as is: %v", v)
	}
	p := &plainDict{memDict{vals: []string{"z", "y"}}}
	if v := dictValues(p); fmt.Sprint(v) != "[z y]" || &v[0] == &p.vals[0] {
		t.Fatalf("plain dictionary not decoded: %v", v)
	}
}
