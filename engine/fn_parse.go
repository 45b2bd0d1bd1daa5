package engine

// Parsing text by a template (PostgreSQL 15 §9.8): to_timestamp(text, text),
// to_date(text, text) (to_timestamp.go) and to_number(text, text) (to_number.go),
// the inverses of to_char.

func init() {
	register(
		&Func{Name: "to_timestamp", Args: sig(Text, Text), Ret: TimestampTZ, Strict: true, Vol: Stable,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				return toTimestampText(args[0], args[1], n, TimestampTZ, ev.now.Location())
			}},
		&Func{Name: "to_date", Args: sig(Text, Text), Ret: Date, Strict: true, Vol: Stable,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				return toTimestampText(args[0], args[1], n, Date, nil)
			}},
		&Func{Name: "to_number", Args: sig(Text, Text), Ret: Numeric, Strict: true, Vol: Stable,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				return toNumber(args[0], args[1], n)
			}},
	)
}
