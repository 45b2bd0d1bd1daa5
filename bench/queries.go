package bench

import (
	"strings"
	"time"
)

// Query is one query of the suite. SQL is plain PostgreSQL; DuckSQL is DuckDB's
// spelling of the same query when it needs one ("" = same as SQL).
//
// Every query's result is deterministic: ORDER BY makes the row order total
// (tie-breakers included, NULLS FIRST/LAST spelled out where NULLs can sort, since
// PostgreSQL and DuckDB differ on the default for DESC), so results can be compared
// row by row across engines.
type Query struct {
	Name    string
	SQL     string
	DuckSQL string
}

// Duck returns the DuckDB spelling of q.
func (q Query) Duck() string {
	if q.DuckSQL != "" {
		return q.DuckSQL
	}
	return q.SQL
}

// Selective filter values used by the suite. With DefaultUsers and DefaultProducts
// (any seed) u500 is a middling user (≈ 0.015% of events: ~15 in 100k events,
// ~1500 in 10M) and p250 a middling product (≈ 0.05%).
const (
	MidUser    = "u500"
	MidProduct = "p250"
	// MidSession is MidUser's first session (a dozen events on average).
	MidSession = "s500_1"
)

// Queries is the suite over the reference range [DefaultStart, DefaultEnd).
var Queries = QueriesFor(DefaultStart, DefaultEnd)

// QueriesFor returns the suite for data generated over [start, end): the literal
// timestamps in it (the last hour, a six-hour window in the middle, the last day) are
// derived from the range. The range should be at least a day long.
func QueriesFor(start, end time.Time) []Query {
	start, end = start.UTC(), end.UTC()
	lit := func(t time.Time) string { return "'" + t.UTC().Format("2006-01-02 15:04:05+00") + "'" }
	mid := start.Add(end.Sub(start) / 2).Truncate(time.Hour)
	vars := strings.NewReplacer(
		"$START", lit(start),
		"$LAST_HOUR", lit(end.Add(-time.Hour)),
		"$END", lit(end),
		"$MID_FROM", lit(mid.Add(-3*time.Hour)),
		"$MID_TO", lit(mid.Add(3*time.Hour)),
		"$GRAFANA_FROM", lit(end.Add(-6*time.Hour)),
		"$GRAFANA_TO", lit(end.Add(-5*time.Hour)),
		"$LAST_DAY", lit(end.Add(-24*time.Hour)),
		"$USER", "'"+MidUser+"'",
		"$PRODUCT", "'"+MidProduct+"'",
		"$SESSION", "'"+MidSession+"'",
	)
	qs := make([]Query, len(suite))
	for i, q := range suite {
		qs[i] = Query{Name: q.Name, SQL: vars.Replace(q.SQL)}
		if q.DuckSQL != "" {
			qs[i].DuckSQL = vars.Replace(q.DuckSQL)
		}
	}
	return qs
}

// suite holds the queries with $VARIABLES that QueriesFor fills in.
var suite = []Query{
	{Name: "count_all", SQL: `SELECT count(*) FROM user_behavior`},
	{Name: "count_one_user", SQL: `SELECT count(*) FROM user_behavior WHERE user_id = $USER`},
	{Name: "count_one_product", SQL: `SELECT count(*), count(DISTINCT user_id) FROM user_behavior WHERE product_id = $PRODUCT`},
	{Name: "count_by_event", SQL: `SELECT event, count(*) AS n FROM user_behavior GROUP BY event ORDER BY event`},
	{Name: "min_max_time", SQL: `SELECT min("timestamp"), max("timestamp") FROM user_behavior`},
	{Name: "null_counts", SQL: `SELECT count(*) AS n, count(brand) AS branded, count(referrer) AS referred, count(quantity) AS with_quantity FROM user_behavior`},
	{Name: "per_minute_last_hour", SQL: `SELECT date_trunc('minute', "timestamp") AS minute, count(*) AS events ` +
		`FROM user_behavior WHERE "timestamp" >= $LAST_HOUR AND "timestamp" < $END GROUP BY 1 ORDER BY 1`},
	{Name: "hourly_conversion", SQL: `SELECT date_trunc('hour', "timestamp") AS hour, count(*) AS events, ` +
		`count(*) FILTER (WHERE event = 'purchase')::float8 / count(*) AS conversion ` +
		`FROM user_behavior GROUP BY 1 ORDER BY 1`},
	{Name: "daily_conversion", SQL: `SELECT date_trunc('day', "timestamp") AS day, ` +
		`count(*) FILTER (WHERE event = 'view') AS views, count(*) FILTER (WHERE event = 'purchase') AS purchases, ` +
		`count(*) FILTER (WHERE event = 'purchase')::float8 / count(*) FILTER (WHERE event = 'view') AS conversion ` +
		`FROM user_behavior GROUP BY 1 ORDER BY 1`},
	{Name: "funnel_by_category", SQL: `SELECT category, ` +
		`count(*) FILTER (WHERE event = 'view') AS views, count(*) FILTER (WHERE event = 'click') AS clicks, ` +
		`count(*) FILTER (WHERE event = 'cart') AS carts, count(*) FILTER (WHERE event = 'purchase') AS purchases ` +
		`FROM user_behavior GROUP BY category ORDER BY category`},
	{Name: "top_products_revenue", SQL: `SELECT product_id, sum(price * quantity) FILTER (WHERE event = 'purchase') AS revenue ` +
		`FROM user_behavior GROUP BY product_id ORDER BY revenue DESC NULLS LAST, product_id LIMIT 10`},
	{Name: "distinct_users_by_country", SQL: `SELECT country, count(DISTINCT user_id) AS users FROM user_behavior ` +
		`GROUP BY country ORDER BY users DESC, country`},
	{Name: "top_users", SQL: `SELECT user_id, count(*) AS n FROM user_behavior GROUP BY user_id ORDER BY n DESC, user_id LIMIT 10`},
	{Name: "top_user_events", SQL: `SELECT user_id, event, count(*) AS n FROM user_behavior ` +
		`GROUP BY user_id, event ORDER BY n DESC, user_id, event LIMIT 10`},
	{Name: "avg_price_by_brand", SQL: `SELECT brand, avg(price) AS avg_price, count(*) AS n FROM user_behavior ` +
		`WHERE price > 0 GROUP BY brand ORDER BY brand NULLS FIRST`},
	{Name: "median_price_by_category", SQL: `SELECT category, percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS p50, ` +
		`percentile_cont(0.95) WITHIN GROUP (ORDER BY price) AS p95 FROM user_behavior WHERE event = 'purchase' AND price > 0 ` +
		`GROUP BY category ORDER BY category`},
	{Name: "price_quantity_model", SQL: `SELECT category, regr_slope(price, quantity) AS slope, regr_intercept(price, quantity) AS intercept, ` +
		`corr(price, quantity) AS r, stddev(price) AS sd FROM user_behavior WHERE event IN ('cart', 'purchase') ` +
		`GROUP BY category ORDER BY category`},
	{Name: "device_by_event", SQL: `SELECT device, event, count(*) AS n FROM user_behavior GROUP BY device, event ORDER BY device, event`},
	{Name: "referrer_share", SQL: `SELECT coalesce(referrer, '(direct)') AS referrer, count(*) AS n, ` +
		`count(DISTINCT session_id) AS sessions FROM user_behavior GROUP BY 1 ORDER BY n DESC, 1`},
	{Name: "like_products", SQL: `SELECT count(*) FROM user_behavior WHERE product_id LIKE 'p12%'`},
	{Name: "in_lists", SQL: `SELECT country, event, count(*) AS n FROM user_behavior ` +
		`WHERE country IN ('DE', 'FR', 'NL') AND event IN ('cart', 'purchase') GROUP BY country, event ORDER BY country, event`},
	{Name: "time_range_filter", SQL: `SELECT count(*), count(DISTINCT user_id) FROM user_behavior ` +
		`WHERE "timestamp" >= $MID_FROM AND "timestamp" < $MID_TO AND device = 'mobile'`},
	{Name: "latest_events", SQL: `SELECT "timestamp", user_id, event, product_id FROM user_behavior ` +
		`ORDER BY "timestamp" DESC, user_id, session_id, event, product_id LIMIT 10`},
	{Name: "grafana_time_series", SQL: `SELECT floor(extract(epoch from "timestamp")/60)*60 AS "time", count(*) AS events ` +
		`FROM user_behavior WHERE "timestamp" BETWEEN $GRAFANA_FROM AND $GRAFANA_TO GROUP BY 1 ORDER BY 1`},
	{Name: "grafana_events_by_type", SQL: `SELECT floor(extract(epoch from "timestamp")/300)*300 AS "time", event, count(*) AS events ` +
		`FROM user_behavior WHERE "timestamp" >= $LAST_DAY AND "timestamp" < $END GROUP BY 1, 2 ORDER BY 1, 2`},
	{Name: "distinct_sessions", SQL: `SELECT count(DISTINCT session_id) FROM user_behavior`},
	{Name: "sessions_by_device", SQL: `SELECT device, count(DISTINCT session_id) AS sessions, ` +
		`count(*)::float8 / count(DISTINCT session_id) AS events_per_session FROM user_behavior GROUP BY device ORDER BY device`},
	{Name: "having_buyers", SQL: `SELECT user_id, count(*) FILTER (WHERE event = 'purchase') AS purchases FROM user_behavior ` +
		`GROUP BY user_id HAVING count(*) FILTER (WHERE event = 'purchase') >= 3 ORDER BY purchases DESC, user_id LIMIT 20`},
	{Name: "price_buckets", SQL: `SELECT CASE WHEN price <= 0 THEN 'anomaly' WHEN price < 20 THEN 'low' ` +
		`WHEN price < 100 THEN 'mid' ELSE 'high' END AS bucket, count(*) AS n, sum(quantity) AS items ` +
		`FROM user_behavior GROUP BY 1 ORDER BY 1`},
	{Name: "purchase_anomalies", SQL: `SELECT date_trunc('day', "timestamp") AS day, count(*) AS anomalies, min(price) AS min_price ` +
		`FROM user_behavior WHERE event = 'purchase' AND price <= 0 GROUP BY 1 ORDER BY 1`},
	{Name: "country_revenue", SQL: `SELECT country, sum(price * quantity) AS revenue, count(DISTINCT user_id) AS buyers ` +
		`FROM user_behavior WHERE event = 'purchase' AND price > 0 GROUP BY country ORDER BY revenue DESC, country LIMIT 10`},
	{Name: "brand_not_view", SQL: `SELECT coalesce(brand, 'unbranded') AS brand, count(*) AS n FROM user_behavior ` +
		`WHERE category = 'electronics' AND event <> 'view' GROUP BY 1 ORDER BY n DESC, 1 LIMIT 10`},
	{Name: "user_timeline", SQL: `SELECT date_trunc('day', "timestamp") AS day, count(*) AS events, ` +
		`count(DISTINCT session_id) AS sessions FROM user_behavior WHERE user_id = $USER GROUP BY 1 ORDER BY 1`},
	{Name: "cart_quantity_by_category", SQL: `SELECT category, avg(quantity)::float8 AS avg_quantity, max(quantity) AS max_quantity ` +
		`FROM user_behavior WHERE event = 'cart' GROUP BY category ORDER BY category`},
	// One query of each kind of issue 11's table, the kinds where strata was slower
	// than DuckDB over the wire: general hash aggregation over high-cardinality
	// keys, distinct counting, plain column scans and expression evaluation, and
	// row retrieval by a high-cardinality key.
	//
	// Per-user distinct sessions (one group per user), then a histogram over them.
	{Name: "sessions_per_user_histogram", SQL: `SELECT sessions, count(*) AS users FROM ` +
		`(SELECT user_id, count(DISTINCT session_id) AS sessions FROM user_behavior GROUP BY user_id) s ` +
		`GROUP BY sessions ORDER BY sessions`},
	// Per-user distinct products over a filtered subset, top 10.
	{Name: "top_users_distinct_products", SQL: `SELECT user_id, count(DISTINCT product_id) AS products FROM user_behavior ` +
		`WHERE event IN ('click', 'cart', 'purchase') GROUP BY user_id ORDER BY products DESC, user_id LIMIT 10`},
	// Plain aggregates of the numeric columns over every row.
	{Name: "numeric_summary", SQL: `SELECT sum(price) AS sum_price, avg(price) AS avg_price, min(price) AS min_price, ` +
		`max(price) AS max_price, sum(quantity) AS items, avg(quantity) AS avg_quantity, min(quantity) AS min_quantity, ` +
		`max(quantity) AS max_quantity FROM user_behavior`},
	// Events per minute over one day: 1,440 groups.
	{Name: "per_minute_one_day", SQL: `SELECT date_trunc('minute', "timestamp") AS minute, count(*) AS events ` +
		`FROM user_behavior WHERE "timestamp" >= $LAST_DAY AND "timestamp" < $END GROUP BY 1 ORDER BY 1`},
	// Every column of one session's rows, by a high-cardinality text key.
	{Name: "session_rows", SQL: `SELECT * FROM user_behavior WHERE session_id = $SESSION ` +
		`ORDER BY "timestamp", event, product_id, price, quantity`},
	// Hourly counts by a low-cardinality column over the week.
	{Name: "hourly_by_device_week", SQL: `SELECT date_trunc('hour', "timestamp") AS hour, device, count(*) AS events ` +
		`FROM user_behavior WHERE "timestamp" >= $START AND "timestamp" < $END GROUP BY 1, 2 ORDER BY 1, 2`},
	// Revenue (an expression over two columns) by country over every row.
	{Name: "revenue_by_country", SQL: `SELECT country, sum(price * quantity) AS revenue, count(*) AS n FROM user_behavior ` +
		`GROUP BY country ORDER BY country`},
	// Top-N over one group per user, with the same expression summed beside.
	{Name: "top_users_items_revenue", SQL: `SELECT user_id, sum(quantity) AS items, sum(price * quantity) AS revenue ` +
		`FROM user_behavior GROUP BY user_id ORDER BY items DESC NULLS LAST, user_id LIMIT 10`},
	// A moving one-hour revenue over every event (one window partition as large as
	// the table), reduced to each day's peak.
	{Name: "moving_hour_revenue", SQL: `SELECT date_trunc('day', "timestamp") AS day, count(*) AS events, max(revenue) AS peak_hour_revenue ` +
		`FROM (SELECT "timestamp", sum(price * quantity) FILTER (WHERE event = 'purchase') ` +
		`OVER (ORDER BY "timestamp" RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS revenue FROM user_behavior) m ` +
		`GROUP BY 1 ORDER BY 1`},
	// The newest 10,000 events, every column: a "latest events" table panel, and the
	// suite's one large result, so wire ms minus in-process ms is the wire's share of
	// sending 10k rows.
	{Name: "latest_10k_events", SQL: `SELECT * FROM user_behavior ORDER BY "timestamp" DESC, user_id NULLS LAST, ` +
		`session_id NULLS LAST, event NULLS LAST, product_id NULLS LAST, price NULLS LAST, quantity NULLS LAST LIMIT 10000`},
}
