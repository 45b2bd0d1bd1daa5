package engine

import "github.com/stratadb/strata/internal/pguuid"

// uuid functions. A uuid value is its canonical text (uuid.go's TypeUUID), so the
// comparison operators are those of text, and only generating one is its own.
func init() {
	register(
		&Func{Name: "gen_random_uuid", Ret: UUID, Strict: true, Vol: Volatile, kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			out := newVec(UUID, n)
			for i := range out.s {
				out.s[i] = pguuid.Random()
			}
			return out, nil
		}},
	)
}
