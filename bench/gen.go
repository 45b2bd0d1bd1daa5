// Package bench owns strata's reference workload and the measurements made with it:
// a deterministic generator of e-commerce user-behaviour events (gen.go), the query
// suite run against strata and its peers (queries.go), and the canonical rendering
// and comparison of result rows across engines (compare.go). Package bench imports
// only storage, so the generator builds without the SQL stack.
//
// Around it: bench/inproc runs strata in process (store + SQL session) over the
// workload and checks the suite against a real PostgreSQL; bench/internal/pgtest
// starts that PostgreSQL; bench/duck is a separate Go module (so that the strata
// binary never links DuckDB) that times strata against DuckDB and checks both return
// the same rows.
//
// Invariants:
//   - A Generator is a pure function of its constructor arguments and the sequence of
//     calls made on it: the same seed, range, sizes and calls give byte-identical
//     events (math/rand/v2's PCG, whose stream Go keeps stable, our own samplers, no
//     map iteration). Across architectures the float setup of the samplers (math.Pow,
//     math.Exp, fused multiply-add on arm64) may differ in the last bit, which can
//     change a rare draw; on one GOARCH the output is fixed.
//   - Every generated timestamp lies in [start, end); in ordered mode (Ordered) they
//     are also non-decreasing.
package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/stratadb/strata/storage"
)

// TableName is the table the workload lives in.
const TableName = "user_behavior"

// CreateTableSQL creates the workload's table. It is plain PostgreSQL and DuckDB
// accepts it unchanged.
const CreateTableSQL = `CREATE TABLE user_behavior (` +
	`"timestamp" timestamptz NOT NULL, user_id text, event text, product_id text, ` +
	`session_id text, category text, brand text, price double precision, ` +
	`quantity integer, country text, device text, referrer text)`

// Column positions in EventSchema, for code that fills Columns directly.
const (
	ColTimestamp = iota
	ColUserID
	ColEvent
	ColProductID
	ColSessionID
	ColCategory
	ColBrand
	ColPrice
	ColQuantity
	ColCountry
	ColDevice
	ColReferrer
	numCols
)

// EventSchema returns a new schema of the user_behavior table (the same columns as
// CreateTableSQL), time column "timestamp".
func EventSchema() *storage.Schema {
	return &storage.Schema{
		Columns: []storage.Column{
			{Name: "timestamp", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
			{Name: "user_id", Type: storage.TypeString, SQLType: "text"},
			{Name: "event", Type: storage.TypeString, SQLType: "text"},
			{Name: "product_id", Type: storage.TypeString, SQLType: "text"},
			{Name: "session_id", Type: storage.TypeString, SQLType: "text"},
			{Name: "category", Type: storage.TypeString, SQLType: "text"},
			{Name: "brand", Type: storage.TypeString, SQLType: "text"},
			{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
			{Name: "quantity", Type: storage.TypeInt64, SQLType: "integer"},
			{Name: "country", Type: storage.TypeString, SQLType: "text"},
			{Name: "device", Type: storage.TypeString, SQLType: "text"},
			{Name: "referrer", Type: storage.TypeString, SQLType: "text"},
		},
		TimeColumn: ColTimestamp,
	}
}

// The reference range: one week of November 2026, UTC. The query suite's literal
// timestamps fall inside it; generate with DefaultStart, DefaultEnd for the suite.
var (
	DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	DefaultEnd   = time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)
)

// Reference sizes: the suite's selective filters name users and products that are of
// middling frequency with these sizes (and any seed).
const (
	DefaultUsers    = 100_000
	DefaultProducts = 10_000
)

// Event kinds with their shares of all events.
var (
	eventNames   = []string{"view", "click", "cart", "purchase"}
	eventWeights = []float64{70, 20, 7, 3}
)

const (
	evView = iota
	evClick
	evCart
	evPurchase
)

// Categories; each owns brandsPerCategory brands.
var categories = []string{
	"electronics", "computers", "phones", "books", "clothing", "shoes", "jewelry",
	"beauty", "health", "home", "kitchen", "garden", "toys", "sports", "outdoors",
	"automotive", "grocery", "pets", "music", "office",
}

// Typical price of a product in each category (index as categories), in dollars.
var categoryBasePrice = []float64{
	250, 600, 450, 15, 35, 70, 120, 20, 18, 60, 40, 30, 25, 45, 80, 55, 8, 22, 14, 12,
}

const brandsPerCategory = 10 // 20 categories × 10 = 200 brands

var (
	brandPrefixes = []string{"Acme", "Nova", "Zen", "Peak", "Blue", "Terra", "Lumi", "Vex",
		"Orbi", "Kiro", "Solo", "Mira", "Fjord", "Quant", "Aero", "Pixel", "Urban", "Iron", "Echo", "Jade"}
	brandSuffixes = []string{"", "co", "tek", "line", "works", "labs", "gear", "ware", "ify", "io"}
)

// Countries, most frequent first; weights fall off as 1/rank^0.9.
var countries = []string{
	"US", "IN", "GB", "DE", "BR", "FR", "JP", "CA", "MX", "ES", "IT", "AU", "KR", "NL", "TR",
	"PL", "ID", "SE", "CH", "BE", "AR", "ZA", "NO", "DK", "AT", "IE", "SG", "NZ", "PT", "FI",
}

var (
	devices       = []string{"mobile", "desktop", "tablet"}
	deviceWeights = []float64{60, 32, 8}
)

// Referrers; index 0 is NULL (a direct visit).
var (
	referrers       = []string{"", "google", "facebook", "instagram", "email", "tiktok", "bing", "affiliate", "youtube"}
	referrerWeights = []float64{25, 30, 10, 8, 8, 6, 4, 5, 4}
)

// Quantity of cart and purchase events: 1..5.
var quantityWeights = []float64{60, 20, 10, 6, 4}

// hourWeights is the diurnal curve: relative event density by hour of day (UTC),
// quiet at 03-05, peaking in the evening.
var hourWeights = [24]float64{
	30, 20, 14, 10, 9, 10, 16, 28, 45, 60, 70, 76,
	80, 80, 78, 76, 78, 84, 95, 100, 100, 92, 70, 48,
}

const (
	userZipfExponent    = 0.8 // top user ≈ 2% of events with 100k users
	productZipfExponent = 0.9 // top product ≈ 6% with 10k products
	countryZipfExponent = 0.9
	unbrandedShare      = 0.05 // products without a brand (brand NULL)
	newSessionChance    = 0.08 // a user's next event starts a new session (~12 events per session)
	sessionGap          = 30 * time.Minute
	anomalyShare        = 0.005 // purchases whose price is <= 0
)

// Event is one generated event. Strings point into the generator's tables (no
// allocation per event except a new session's id). Brand and Referrer are "" for
// NULL; Quantity is 0 for NULL (view events).
type Event struct {
	Time      int64 // µs since the epoch, UTC
	UserID    string
	Event     string
	ProductID string
	SessionID string
	Category  string
	Brand     string
	Price     float64
	Quantity  int64
	Country   string
	Device    string
	Referrer  string
}

// Generator produces the workload's events. It is deterministic (see the package
// invariants) and not safe for concurrent use.
//
// Distributions:
//   - users "u1".."uN" by Zipf rank (exponent 0.8; u1 is the busiest); each user has a
//     fixed country (30 countries, Zipf 0.9).
//   - products "p1".."pM" by Zipf rank (exponent 0.9); each product has a fixed category
//     (20, uniform), brand (10 per category; 5% of products NULL) and price (category
//     base price × log-normal, in cents, > 0).
//   - events view 70%, click 20%, cart 7%, purchase 3%. 0.5% of purchases carry an
//     anomalous price <= 0 (0 or the negated price) for alerting.
//   - quantity: NULL for views, 1 for clicks, 1..5 for cart and purchase.
//   - sessions: a user's event continues their session unless 8% chance, or (ordered
//     mode) more than 30 minutes passed; session ids "s<user>_<n>". Device (mobile 60%,
//     desktop 32%, tablet 8%) and referrer (25% NULL) are per session.
//   - time: density follows hourWeights by hour of day. By default each event's time is
//     drawn independently in [start, end); after Ordered(total) the times of the next
//     total events are stratified and non-decreasing.
type Generator struct {
	rng   *rand.Rand
	start int64 // µs
	end   int64 // µs

	// Time density: slots are the hours overlapping [start, end); cum[i] is the total
	// weight before slot i, cum[len] the total. slots samples a slot by weight.
	slotStart []int64
	slotLen   []int64
	cum       []float64
	slots     *aliasTable
	slotHint  int // ordered mode: the slot of the previous time

	users    *aliasTable
	products *aliasTable
	event    *aliasTable
	device   *aliasTable
	referrer *aliasTable
	quantity *aliasTable

	// One record per user and per product, so that an event touches one cache line
	// of each (they are drawn at random from tables too large for the cache).
	userRecs    []userRec
	productRecs []productRec
	brandNames  []string

	ordered  bool
	total    int // ordered mode: events in the stratified run
	produced int // ordered mode: events of the run produced so far
}

// userRec is a user and their current session.
type userRec struct {
	id         string
	sessID     string // "" before the first session
	lastTime   int64
	sessN      uint32 // sessions started so far
	country    uint8
	sessDevice uint8
	sessRef    uint8
}

// productRec is a product of the catalog.
type productRec struct {
	id       string
	price    float64
	brand    int16 // -1: NULL
	category uint8
}

// NewGenerator returns a generator of events in [start, end) over users users and
// products products. It panics unless start < end, users > 0 and products > 0.
func NewGenerator(seed int64, start, end time.Time, users, products int) *Generator {
	if !start.Before(end) || users <= 0 || products <= 0 {
		panic(fmt.Sprintf("BUG: bench.NewGenerator(start %v, end %v, users %d, products %d)", start, end, users, products))
	}
	g := &Generator{
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x5eed_e7e7)),
		start: start.UnixMicro(),
		end:   end.UnixMicro(),
	}
	g.buildTime()

	// The catalog (user countries, product attributes) comes from its own stream so
	// that it does not depend on how many events are drawn.
	cat := rand.New(rand.NewPCG(uint64(seed), 0xca7a_1096))
	g.users = newAliasTable(zipfWeights(users, userZipfExponent))
	g.products = newAliasTable(zipfWeights(products, productZipfExponent))
	g.event = newAliasTable(eventWeights)
	g.device = newAliasTable(deviceWeights)
	g.referrer = newAliasTable(referrerWeights)
	g.quantity = newAliasTable(quantityWeights)

	countryTable := newAliasTable(zipfWeights(len(countries), countryZipfExponent))
	g.userRecs = make([]userRec, users)
	for i := range g.userRecs {
		g.userRecs[i].id = "u" + strconv.Itoa(i+1)
		g.userRecs[i].country = uint8(countryTable.sample(cat))
	}

	g.brandNames = make([]string, len(categories)*brandsPerCategory)
	for i := range g.brandNames {
		g.brandNames[i] = brandPrefixes[i%len(brandPrefixes)] + brandSuffixes[i/len(brandPrefixes)]
	}
	g.productRecs = make([]productRec, products)
	for i := range g.productRecs {
		pr := &g.productRecs[i]
		pr.id = "p" + strconv.Itoa(i+1)
		c := cat.IntN(len(categories))
		pr.category = uint8(c)
		pr.brand = int16(c*brandsPerCategory + cat.IntN(brandsPerCategory))
		if cat.Float64() < unbrandedShare {
			pr.brand = -1
		}
		p := categoryBasePrice[c] * math.Exp(0.6*cat.NormFloat64())
		pr.price = max(math.Round(p*100)/100, 0.99)
	}
	return g
}

// buildTime splits [start, end) into hour slots weighted by hourWeights.
func (g *Generator) buildTime() {
	const hour = int64(time.Hour / time.Microsecond)
	first := g.start - mod(g.start, hour)
	n := int((g.end - first + hour - 1) / hour)
	g.slotStart = make([]int64, n)
	g.slotLen = make([]int64, n)
	g.cum = make([]float64, n+1)
	for i := range n {
		s := max(first+int64(i)*hour, g.start)
		e := min(first+int64(i+1)*hour, g.end)
		g.slotStart[i] = s
		g.slotLen[i] = e - s
		hod := mod(first+int64(i)*hour, 24*hour) / hour
		g.cum[i+1] = g.cum[i] + hourWeights[hod]*float64(e-s)/float64(hour)
	}
	w := make([]float64, n)
	for i := range w {
		w[i] = g.cum[i+1] - g.cum[i]
	}
	g.slots = newAliasTable(w)
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// orderedTimeAt maps u in [0, 1) to a time in [start, end) through the inverse of
// the cumulative time density; it is non-decreasing in u. Successive calls must pass
// non-decreasing u: the slot search walks forward from the previous one.
func (g *Generator) orderedTimeAt(u float64) int64 {
	w := u * g.cum[len(g.cum)-1]
	// The last slot i with cum[i] <= w.
	i := g.slotHint
	for i+1 < len(g.slotStart) && g.cum[i+1] <= w {
		i++
	}
	g.slotHint = i
	frac := (w - g.cum[i]) / (g.cum[i+1] - g.cum[i])
	off := int64(frac * float64(g.slotLen[i]))
	off = min(max(off, 0), g.slotLen[i]-1)
	return g.slotStart[i] + off
}

// randomTime draws a time from the density: a slot by weight, then uniformly in it.
func (g *Generator) randomTime(r *rand.Rand) int64 {
	i := g.slots.sample(r)
	return g.slotStart[i] + r.Int64N(g.slotLen[i])
}

// Ordered makes the times of the next total events non-decreasing, spread over
// [start, end) by the diurnal curve (stratified: the k-th event falls in the k-th
// total-quantile of the density). Events after those total are drawn independently
// again. total <= 0 switches ordered mode off.
func (g *Generator) Ordered(total int) {
	g.ordered = total > 0
	g.total = total
	g.produced = 0
	g.slotHint = 0
}

// Next generates the next event into e.
func (g *Generator) Next(e *Event) {
	r := g.rng
	var t int64
	if g.ordered && g.produced < g.total {
		t = g.orderedTimeAt((float64(g.produced) + r.Float64()) / float64(g.total))
		g.produced++
	} else {
		t = g.randomTime(r)
	}
	ui := g.users.sample(r)
	u := &g.userRecs[ui]
	p := &g.productRecs[g.products.sample(r)]
	ev := g.event.sample(r)

	if u.sessN == 0 || r.Float64() < newSessionChance ||
		(g.ordered && t-u.lastTime > int64(sessionGap/time.Microsecond)) {
		u.sessN++
		// The one allocation per new session.
		u.sessID = "s" + strconv.Itoa(ui+1) + "_" + strconv.Itoa(int(u.sessN))
		u.sessDevice = uint8(g.device.sample(r))
		u.sessRef = uint8(g.referrer.sample(r))
	}
	u.lastTime = t

	price := p.price
	var qty int64
	switch ev {
	case evView:
		qty = 0
	case evClick:
		qty = 1
	default:
		qty = int64(g.quantity.sample(r)) + 1
	}
	if ev == evPurchase && r.Float64() < anomalyShare {
		if r.IntN(2) == 0 {
			price = 0
		} else {
			price = -price
		}
	}

	e.Time = t
	e.UserID = u.id
	e.Event = eventNames[ev]
	e.ProductID = p.id
	e.SessionID = u.sessID
	e.Category = categories[p.category]
	e.Brand = ""
	if p.brand >= 0 {
		e.Brand = g.brandNames[p.brand]
	}
	e.Price = price
	e.Quantity = qty
	e.Country = countries[u.country]
	e.Device = devices[u.sessDevice]
	e.Referrer = referrers[u.sessRef]
}

// Fill appends n events to cols, which must have EventSchema's layout. NULLs are
// marked in brand, quantity and referrer.
func (g *Generator) Fill(cols *storage.Columns, n int) {
	if len(cols.Cols) != numCols {
		panic(fmt.Sprintf("BUG: bench.Fill: %d columns, want %d (EventSchema)", len(cols.Cols), numCols))
	}
	c := cols.Cols
	var e Event
	for range n {
		g.Next(&e)
		row := cols.Len
		c[ColTimestamp].Int64 = append(c[ColTimestamp].Int64, e.Time)
		c[ColUserID].String = append(c[ColUserID].String, e.UserID)
		c[ColEvent].String = append(c[ColEvent].String, e.Event)
		c[ColProductID].String = append(c[ColProductID].String, e.ProductID)
		c[ColSessionID].String = append(c[ColSessionID].String, e.SessionID)
		c[ColCategory].String = append(c[ColCategory].String, e.Category)
		c[ColBrand].String = append(c[ColBrand].String, e.Brand)
		c[ColPrice].Float64 = append(c[ColPrice].Float64, e.Price)
		c[ColQuantity].Int64 = append(c[ColQuantity].Int64, e.Quantity)
		c[ColCountry].String = append(c[ColCountry].String, e.Country)
		c[ColDevice].String = append(c[ColDevice].String, e.Device)
		c[ColReferrer].String = append(c[ColReferrer].String, e.Referrer)
		cols.Len++
		if e.Brand == "" {
			cols.SetNull(ColBrand, row)
		}
		if e.Quantity == 0 {
			cols.SetNull(ColQuantity, row)
		}
		if e.Referrer == "" {
			cols.SetNull(ColReferrer, row)
		}
	}
}

// AppendJSON appends the next event to dst as one JSON object (no newline: one
// Kafka record or one line once the caller adds '\n').
func (g *Generator) AppendJSON(dst []byte) []byte {
	var e Event
	g.Next(&e)
	return AppendEventJSON(dst, &e)
}

// AppendCSV appends the next event to dst as one CSV record (CSVHeader's column
// order, NULL as an empty unquoted field, PostgreSQL's COPY ... CSV default), without
// the newline.
func (g *Generator) AppendCSV(dst []byte) []byte {
	var e Event
	g.Next(&e)
	return AppendEventCSV(dst, &e)
}

// CSVHeader is the header line matching AppendCSV, without the newline.
const CSVHeader = "timestamp,user_id,event,product_id,session_id,category,brand,price,quantity,country,device,referrer"

// timeLayout is RFC 3339 with microseconds, trailing zeros dropped.
const timeLayout = "2006-01-02T15:04:05.999999Z07:00"

// AppendEventJSON appends e as one JSON object (no newline) to dst, keys in the order
// user_id, event, timestamp, product_id, then the remaining columns; NULLs are null.
func AppendEventJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"user_id":`...)
	dst = strconv.AppendQuote(dst, e.UserID)
	dst = append(dst, `,"event":`...)
	dst = strconv.AppendQuote(dst, e.Event)
	dst = append(dst, `,"timestamp":"`...)
	dst = time.UnixMicro(e.Time).UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, `","product_id":`...)
	dst = strconv.AppendQuote(dst, e.ProductID)
	dst = append(dst, `,"session_id":`...)
	dst = strconv.AppendQuote(dst, e.SessionID)
	dst = append(dst, `,"category":`...)
	dst = strconv.AppendQuote(dst, e.Category)
	dst = append(dst, `,"brand":`...)
	dst = appendJSONNullable(dst, e.Brand)
	dst = append(dst, `,"price":`...)
	dst = strconv.AppendFloat(dst, e.Price, 'f', -1, 64)
	dst = append(dst, `,"quantity":`...)
	if e.Quantity == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, e.Quantity, 10)
	}
	dst = append(dst, `,"country":`...)
	dst = strconv.AppendQuote(dst, e.Country)
	dst = append(dst, `,"device":`...)
	dst = strconv.AppendQuote(dst, e.Device)
	dst = append(dst, `,"referrer":`...)
	dst = appendJSONNullable(dst, e.Referrer)
	return append(dst, '}')
}

// appendJSONNullable appends s quoted, or null when s is "". The generator's strings
// are ASCII letters, digits and '_', so Go quoting is JSON quoting for them.
func appendJSONNullable(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return strconv.AppendQuote(dst, s)
}

// AppendEventCSV appends e as one CSV record without the newline (see AppendCSV). The
// generator's strings hold no comma, quote or newline, so none is quoted.
func AppendEventCSV(dst []byte, e *Event) []byte {
	dst = time.UnixMicro(e.Time).UTC().AppendFormat(dst, timeLayout)
	for _, s := range [...]string{e.UserID, e.Event, e.ProductID, e.SessionID, e.Category, e.Brand} {
		dst = append(dst, ',')
		dst = append(dst, s...)
	}
	dst = append(dst, ',')
	dst = strconv.AppendFloat(dst, e.Price, 'f', -1, 64)
	dst = append(dst, ',')
	if e.Quantity != 0 {
		dst = strconv.AppendInt(dst, e.Quantity, 10)
	}
	for _, s := range [...]string{e.Country, e.Device, e.Referrer} {
		dst = append(dst, ',')
		dst = append(dst, s...)
	}
	return dst
}

// zipfWeights returns n weights 1/rank^s, rank 1..n.
func zipfWeights(n int, s float64) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = math.Pow(float64(i+1), -s)
	}
	return w
}

// aliasTable samples an index with probability proportional to its weight in O(1)
// with one random number (Vose's alias method; the high 32 bits pick the column, the
// low 32 bits decide between it and its alias, so probabilities are exact to 2^-32).
type aliasTable struct {
	cols []aliasCol
}

type aliasCol struct {
	threshold uint32 // keep the column when the low 32 random bits are below it
	alias     int32
	keepAll   bool // threshold 2^32: never the alias
}

func newAliasTable(weights []float64) *aliasTable {
	n := len(weights)
	var sum float64
	for _, w := range weights {
		sum += w
	}
	t := &aliasTable{cols: make([]aliasCol, n)}
	scaled := make([]float64, n)
	small := make([]int32, 0, n)
	large := make([]int32, 0, n)
	for i, w := range weights {
		scaled[i] = w * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		t.cols[s] = aliasCol{threshold: uint32(scaled[s] * (1 << 32)), alias: l}
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// Leftovers are 1 up to rounding.
	for _, i := range large {
		t.cols[i] = aliasCol{alias: i, keepAll: true}
	}
	for _, i := range small {
		t.cols[i] = aliasCol{alias: i, keepAll: true}
	}
	return t
}

func (t *aliasTable) sample(r *rand.Rand) int {
	x := r.Uint64()
	i := int((x >> 32) * uint64(len(t.cols)) >> 32)
	c := t.cols[i]
	if c.keepAll || uint32(x) < c.threshold {
		return i
	}
	return int(c.alias)
}

// ResetColumns empties cols for reuse, keeping its buffers.
func ResetColumns(cols *storage.Columns) {
	for i := range cols.Cols {
		d := &cols.Cols[i]
		d.Int64, d.Float64, d.Bool, d.String = d.Int64[:0], d.Float64[:0], d.Bool[:0], d.String[:0]
		d.Null = d.Null[:0]
	}
	cols.Len = 0
}
