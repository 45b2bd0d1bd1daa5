package rowcheck

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// AppendArrow appends the rows of rec to dst: the id from column 0 (int64) and
// the user from column 1 (string, NULL read as ""). It reads the values
// themselves, no statistics.
func AppendArrow(dst []Row, rec arrow.RecordBatch) ([]Row, error) {
	if rec.NumCols() != 2 {
		return dst, fmt.Errorf("rowcheck: batch of %d columns, want id and user", rec.NumCols())
	}
	ids, ok := rec.Column(0).(*array.Int64)
	if !ok {
		return dst, fmt.Errorf("rowcheck: id column is %s, want int64", rec.Column(0).DataType())
	}
	var user func(i int) string
	switch u := rec.Column(1).(type) {
	case *array.String:
		user = u.Value
	case *array.LargeString:
		user = u.Value
	case *array.Dictionary:
		dict, ok := u.Dictionary().(*array.String)
		if !ok {
			return dst, fmt.Errorf("rowcheck: user column is %s, want a string", u.DataType())
		}
		user = func(i int) string { return dict.Value(u.GetValueIndex(i)) }
	default:
		return dst, fmt.Errorf("rowcheck: user column is %s, want a string", u.DataType())
	}
	users := rec.Column(1)
	for i := 0; i < int(rec.NumRows()); i++ {
		r := Row{Null: ids.IsNull(i)}
		if !r.Null {
			r.ID = ids.Value(i)
		}
		if !users.IsNull(i) {
			r.User = user(i)
		}
		dst = append(dst, r)
	}
	return dst, nil
}
