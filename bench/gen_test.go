package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
)

func TestSchemaValid(t *testing.T) {
	s := EventSchema()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(s.Columns) != numCols {
		t.Fatalf("%d columns, want %d", len(s.Columns), numCols)
	}
	// CreateTableSQL declares the same columns in the same order.
	for _, c := range s.Columns {
		name := c.Name
		if name == "timestamp" {
			name = `"timestamp"`
		}
		if !strings.Contains(CreateTableSQL, name+" "+c.SQLType) {
			t.Errorf("CreateTableSQL lacks %s %s", name, c.SQLType)
		}
	}
	if got := strings.Split(CSVHeader, ","); len(got) != numCols {
		t.Errorf("CSVHeader has %d columns", len(got))
	}
}

func TestSameSeedSameOutput(t *testing.T) {
	gen := func(seed int64, ordered bool) []byte {
		g := NewGenerator(seed, DefaultStart, DefaultEnd, 1000, 200)
		if ordered {
			g.Ordered(5000)
		}
		var b []byte
		for range 5000 {
			b = g.AppendJSON(b)
			b = g.AppendCSV(b)
		}
		return b
	}
	for _, ordered := range []bool{false, true} {
		a, b := gen(42, ordered), gen(42, ordered)
		if !bytes.Equal(a, b) {
			t.Errorf("ordered=%v: same seed gave different output", ordered)
		}
		if c := gen(43, ordered); bytes.Equal(a, c) {
			t.Errorf("ordered=%v: seeds 42 and 43 gave identical output", ordered)
		}
	}
}

// TestFillMatchesJSON checks that Fill, AppendJSON and AppendCSV describe the same
// events: three generators with one seed, read back independently.
func TestFillMatchesJSON(t *testing.T) {
	const n = 3000
	g1 := NewGenerator(7, DefaultStart, DefaultEnd, 500, 100)
	g2 := NewGenerator(7, DefaultStart, DefaultEnd, 500, 100)
	g3 := NewGenerator(7, DefaultStart, DefaultEnd, 500, 100)
	cols := storage.NewColumns(EventSchema(), 0)
	g1.Fill(cols, n/2)
	g1.Fill(cols, n-n/2)
	if err := cols.Check(); err != nil {
		t.Fatal(err)
	}
	if cols.Len != n {
		t.Fatalf("Len %d, want %d", cols.Len, n)
	}
	var js, cs []byte
	for range n {
		js = append(g2.AppendJSON(js), '\n')
		cs = append(g3.AppendCSV(cs), '\n')
	}
	g4 := NewGenerator(7, DefaultStart, DefaultEnd, 500, 100)
	if one := g4.AppendJSON(nil); bytes.ContainsAny(one, "\r\n") || !json.Valid(one) {
		t.Errorf("AppendJSON gave %q: want one JSON object without a newline", one)
	}
	if one := g4.AppendCSV(nil); bytes.ContainsAny(one, "\r\n") {
		t.Errorf("AppendCSV gave %q: want one record without a newline", one)
	}
	lines := bytes.Split(bytes.TrimSuffix(js, []byte("\n")), []byte("\n"))
	records, err := csv.NewReader(bytes.NewReader(cs)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != n || len(records) != n {
		t.Fatalf("%d JSON lines, %d CSV records, want %d", len(lines), len(records), n)
	}
	str := func(col, row int) *string {
		if cols.IsNull(col, row) {
			return nil
		}
		s := cols.Cols[col].String[row]
		return &s
	}
	for i, line := range lines {
		var ev struct {
			UserID    string  `json:"user_id"`
			Event     string  `json:"event"`
			Timestamp string  `json:"timestamp"`
			ProductID string  `json:"product_id"`
			SessionID string  `json:"session_id"`
			Category  string  `json:"category"`
			Brand     *string `json:"brand"`
			Price     float64 `json:"price"`
			Quantity  *int64  `json:"quantity"`
			Country   string  `json:"country"`
			Device    string  `json:"device"`
			Referrer  *string `json:"referrer"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("line %d %s: %v", i, line, err)
		}
		ts, err := time.Parse(time.RFC3339Nano, ev.Timestamp)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		eq := func(what string, a, b any) {
			t.Helper()
			if a != b {
				t.Fatalf("row %d %s: Fill %v, JSON %v (%s)", i, what, a, b, line)
			}
		}
		eq("timestamp", cols.Cols[ColTimestamp].Int64[i], ts.UnixMicro())
		eq("user_id", cols.Cols[ColUserID].String[i], ev.UserID)
		eq("event", cols.Cols[ColEvent].String[i], ev.Event)
		eq("product_id", cols.Cols[ColProductID].String[i], ev.ProductID)
		eq("session_id", cols.Cols[ColSessionID].String[i], ev.SessionID)
		eq("category", cols.Cols[ColCategory].String[i], ev.Category)
		eq("brand", deref(str(ColBrand, i)), deref(ev.Brand))
		eq("brand null", str(ColBrand, i) == nil, ev.Brand == nil)
		eq("price", cols.Cols[ColPrice].Float64[i], ev.Price)
		eq("quantity null", cols.IsNull(ColQuantity, i), ev.Quantity == nil)
		if ev.Quantity != nil {
			eq("quantity", cols.Cols[ColQuantity].Int64[i], *ev.Quantity)
		}
		eq("country", cols.Cols[ColCountry].String[i], ev.Country)
		eq("device", cols.Cols[ColDevice].String[i], ev.Device)
		eq("referrer null", str(ColReferrer, i) == nil, ev.Referrer == nil)
		eq("referrer", deref(str(ColReferrer, i)), deref(ev.Referrer))

		rec := records[i]
		eq("csv timestamp", rec[0], ev.Timestamp)
		eq("csv user", rec[1], ev.UserID)
		eq("csv brand", rec[6], deref(ev.Brand))
		p, err := strconv.ParseFloat(rec[7], 64)
		if err != nil || p != ev.Price {
			t.Fatalf("row %d csv price %q, want %v", i, rec[7], ev.Price)
		}
		eq("csv referrer", rec[11], deref(ev.Referrer))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestOrderedTimes(t *testing.T) {
	start := time.Date(2026, 11, 1, 10, 30, 0, 0, time.UTC) // not on an hour boundary
	end := time.Date(2026, 11, 3, 7, 15, 0, 0, time.UTC)
	const n = 50_000
	g := NewGenerator(1, start, end, 1000, 100)
	g.Ordered(n)
	cols := storage.NewColumns(EventSchema(), n)
	g.Fill(cols, n+100) // the last 100 are unordered again
	ts := cols.Cols[ColTimestamp].Int64
	for i, v := range ts {
		if v < start.UnixMicro() || v >= end.UnixMicro() {
			t.Fatalf("row %d: time %v outside [%v, %v)", i, time.UnixMicro(v).UTC(), start, end)
		}
		if i > 0 && i < n && v < ts[i-1] {
			t.Fatalf("row %d: time %d before previous %d", i, v, ts[i-1])
		}
	}
	// Stratification reaches both ends of the range.
	if first := time.UnixMicro(ts[0]); first.Sub(start) > time.Minute {
		t.Errorf("first time %v, want within a minute of %v", first.UTC(), start)
	}
	if last := time.UnixMicro(ts[n-1]); end.Sub(last) > time.Minute {
		t.Errorf("last ordered time %v, want within a minute of %v", last.UTC(), end)
	}
}

// TestProportions checks the distributions with a separate simple count.
func TestProportions(t *testing.T) {
	const n = 200_000
	g := NewGenerator(99, DefaultStart, DefaultEnd, DefaultUsers, DefaultProducts)
	cols := storage.NewColumns(EventSchema(), n)
	g.Fill(cols, n)

	within := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s: share %.4f, want %.4f ± %.4f", what, got, want, tol)
		}
	}
	share := func(count int) float64 { return float64(count) / n }

	events := map[string]int{}
	var purchases, anomalies, qtyNull, brandNull, refNull int
	users, products, categoriesSeen, brands, countriesSeen, sessions := map[string]int{}, map[string]int{}, map[string]bool{}, map[string]bool{}, map[string]int{}, map[string]bool{}
	devicesSeen := map[string]int{}
	hourCount := [24]int{}
	productCategory := map[string]string{}
	productPrice := map[string]float64{}
	for i := range n {
		ev := cols.Cols[ColEvent].String[i]
		events[ev]++
		price := cols.Cols[ColPrice].Float64[i]
		q := cols.Cols[ColQuantity].Int64[i]
		qNull := cols.IsNull(ColQuantity, i)
		switch ev {
		case "view":
			if !qNull {
				t.Fatalf("row %d: view with quantity %d", i, q)
			}
		case "click":
			if qNull || q != 1 {
				t.Fatalf("row %d: click with quantity %d null=%v", i, q, qNull)
			}
		case "cart", "purchase":
			if qNull || q < 1 || q > 5 {
				t.Fatalf("row %d: %s with quantity %d null=%v", i, ev, q, qNull)
			}
		default:
			t.Fatalf("row %d: event %q", i, ev)
		}
		if qNull {
			qtyNull++
		}
		pid := cols.Cols[ColProductID].String[i]
		if ev == "purchase" {
			purchases++
			if price <= 0 {
				anomalies++
			}
		} else if price <= 0 {
			t.Fatalf("row %d: %s with price %v", i, ev, price)
		}
		if price > 0 {
			if old, ok := productPrice[pid]; ok && old != price {
				t.Fatalf("product %s has prices %v and %v", pid, old, price)
			}
			productPrice[pid] = price
		}
		cat := cols.Cols[ColCategory].String[i]
		if old, ok := productCategory[pid]; ok && old != cat {
			t.Fatalf("product %s in categories %s and %s", pid, old, cat)
		}
		productCategory[pid] = cat
		if cols.IsNull(ColBrand, i) {
			brandNull++
		} else {
			brands[cols.Cols[ColBrand].String[i]] = true
		}
		if cols.IsNull(ColReferrer, i) {
			refNull++
		}
		users[cols.Cols[ColUserID].String[i]]++
		products[pid]++
		categoriesSeen[cat] = true
		countriesSeen[cols.Cols[ColCountry].String[i]]++
		devicesSeen[cols.Cols[ColDevice].String[i]]++
		sessions[cols.Cols[ColSessionID].String[i]] = true
		hourCount[time.UnixMicro(cols.Cols[ColTimestamp].Int64[i]).UTC().Hour()]++
	}

	within("view", share(events["view"]), 0.70, 0.005)
	within("click", share(events["click"]), 0.20, 0.005)
	within("cart", share(events["cart"]), 0.07, 0.003)
	within("purchase", share(events["purchase"]), 0.03, 0.002)
	within("anomalous purchases", float64(anomalies)/float64(purchases), 0.005, 0.003)
	if anomalies == 0 {
		t.Error("no anomalous purchase")
	}
	within("quantity NULL", share(qtyNull), 0.70, 0.005)
	// Brand NULL share is 5% of products, weighted by Zipf popularity: loose bound.
	if s := share(brandNull); s < 0.005 || s > 0.2 {
		t.Errorf("brand NULL share %.4f", s)
	}
	// Referrer is per session; events of a session share it, so the tolerance is wider.
	within("referrer NULL", share(refNull), 0.25, 0.03)
	within("mobile", share(devicesSeen["mobile"]), 0.60, 0.03)
	within("tablet", share(devicesSeen["tablet"]), 0.08, 0.02)

	if len(categoriesSeen) != 20 {
		t.Errorf("%d categories, want 20", len(categoriesSeen))
	}
	if len(brands) < 190 || len(brands) > 200 {
		t.Errorf("%d brands, want about 200", len(brands))
	}
	if len(countriesSeen) != 30 {
		t.Errorf("%d countries, want 30", len(countriesSeen))
	}
	if countriesSeen["US"] <= countriesSeen["FI"]*5 {
		t.Errorf("countries not skewed: US %d, FI %d", countriesSeen["US"], countriesSeen["FI"])
	}
	// Zipf users: u1 is the busiest; shares follow 1/rank^0.8 (H(100000, 0.8) ≈ 45.5).
	within("u1", share(users["u1"]), 1/harmonic(DefaultUsers, userZipfExponent), 0.002)
	within("p1", share(products["p1"]), 1/harmonic(DefaultProducts, productZipfExponent), 0.003)
	if users["u1"] <= users["u10"] || users["u10"] <= users["u1000"] {
		t.Errorf("users not Zipf: u1 %d, u10 %d, u1000 %d", users["u1"], users["u10"], users["u1000"])
	}
	// Sessions of the ten busiest users (whose first session is a small share of
	// their events) last 1/newSessionChance = 12.5 events on average.
	var heavyEvents, heavySessions int
	for u := 1; u <= 10; u++ {
		heavyEvents += users["u"+strconv.Itoa(u)]
		for s := range sessions {
			if strings.HasPrefix(s, "s"+strconv.Itoa(u)+"_") {
				heavySessions++
			}
		}
	}
	if s := float64(heavyEvents) / float64(heavySessions); s < 11 || s > 14 {
		t.Errorf("%.1f events per session of the busiest users, want about 12.5", s)
	}
	// Diurnal curve: evening hours hold about 10x the events of the small hours.
	if hourCount[19] < 5*hourCount[4] {
		t.Errorf("hour 19 has %d events, hour 4 %d: no diurnal curve", hourCount[19], hourCount[4])
	}
	var wsum float64
	for _, w := range hourWeights {
		wsum += w
	}
	within("hour 20", share(hourCount[20]), hourWeights[20]/wsum, 0.003)
}

func harmonic(n int, s float64) float64 {
	var h float64
	for k := 1; k <= n; k++ {
		h += math.Pow(float64(k), -s)
	}
	return h
}

func TestAliasTable(t *testing.T) {
	g := NewGenerator(5, DefaultStart, DefaultEnd, 1, 1)
	weights := []float64{1, 0, 5, 2, 0.5}
	tab := newAliasTable(weights)
	counts := make([]int, len(weights))
	const n = 400_000
	for range n {
		counts[tab.sample(g.rng)]++
	}
	for i, w := range weights {
		want := w / 8.5
		if got := float64(counts[i]) / n; math.Abs(got-want) > 0.004 {
			t.Errorf("index %d: share %.4f, want %.4f", i, got, want)
		}
	}
	if counts[1] != 0 {
		t.Errorf("zero weight sampled %d times", counts[1])
	}
}

func BenchmarkFill(b *testing.B) {
	g := NewGenerator(1, DefaultStart, DefaultEnd, DefaultUsers, DefaultProducts)
	const batch = 8192
	schema := EventSchema()
	cols := storage.NewColumns(schema, batch)
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		ResetColumns(cols)
		g.Fill(cols, min(batch, b.N-done))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppendJSON(b *testing.B) {
	g := NewGenerator(1, DefaultStart, DefaultEnd, DefaultUsers, DefaultProducts)
	buf := make([]byte, 0, 1024)
	var bytesOut int
	for b.Loop() {
		buf = g.AppendJSON(buf[:0])
		bytesOut += len(buf)
	}
	b.SetBytes(int64(bytesOut / max(b.N, 1)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
