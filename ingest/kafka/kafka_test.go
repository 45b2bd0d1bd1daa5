package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/stratadb/strata/ingest/kafka"
	"github.com/stratadb/strata/ingest/kafka/kafkatest"
)

func TestNewValidates(t *testing.T) {
	ok := kafka.Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "t", Group: "g"}
	h := newOwner(t, "x", newLake())
	for _, tc := range []struct {
		name string
		edit func(*kafka.Config)
		nilH bool
		want string // substring of the error; "" = no error
	}{
		{"ok", func(*kafka.Config) {}, false, ""},
		{"no brokers", func(c *kafka.Config) { c.Brokers = nil }, false, "no brokers"},
		{"no topic", func(c *kafka.Config) { c.Topic = "" }, false, "no topic"},
		{"no group", func(c *kafka.Config) { c.Group = "" }, false, "no consumer group"},
		{"nil handler", func(*kafka.Config) {}, true, "nil Handler"},
		{"bad sasl", func(c *kafka.Config) { c.SASL = kafka.SASL{Mechanism: "GSSAPI"} }, false, "unknown SASL mechanism"},
		{"scram lower case", func(c *kafka.Config) { c.SASL = kafka.SASL{Mechanism: "scram-sha-512", User: "u"} }, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			var hh kafka.Handler = h
			if tc.nilH {
				hh = nil
			}
			_, err := kafka.New(cfg, hh)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("New: err %v, want %q", err, tc.want)
			}
		})
	}
}

// The first record delivered of each partition is the resume offset: the
// Assigned offset when there is one, else the log start or end; nothing before
// it, nothing after it skipped.
func TestResumeFromAssigned(t *testing.T) {
	ps := []int32{0, 1, 2}
	for _, tc := range []struct {
		name       string
		stored     map[int32]int64
		startAtEnd bool
		want       map[int32]int64 // first offset delivered per partition
	}{
		{"stored", map[int32]int64{0: 4, 1: 0, 2: 10}, false, map[int32]int64{0: 4, 1: 0, 2: 10}},
		{"none stored: log start", nil, false, map[int32]int64{0: 0, 1: 0, 2: 0}},
		{"none stored: log end", nil, true, map[int32]int64{0: 10, 1: 10, 2: 10}},
		{"mixed, log end", map[int32]int64{1: 3}, true, map[int32]int64{0: 10, 1: 3, 2: 10}},
		{"stored at the end and start", map[int32]int64{0: 12, 2: 0}, false, map[int32]int64{0: 12, 1: 0, 2: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := kafkatest.Start(t, "events", 3)
			produceRange(t, addr, "events", ps, 0, 10)
			o := newOwner(t, "a", newLake())
			for p, off := range tc.stored {
				o.catalog[p] = off
			}
			cfg := testConfig(addr, "events", "g")
			cfg.StartAtEnd = tc.startAtEnd
			c, err := kafka.New(cfg, o)
			if err != nil {
				t.Fatal(err)
			}
			o.c = c
			stop, _, _ := run(t, c)
			// Positions are set once Lag knows all three partitions.
			waitFor(t, 20*time.Second, "assignment", func() bool { return len(c.Lag()) == 3 })
			produceRange(t, addr, "events", ps, 10, 14)
			waitFor(t, 20*time.Second, "offset 13 of every partition", func() bool {
				d, _ := o.snapshot()
				for _, p := range ps {
					if len(d[p]) == 0 || d[p][len(d[p])-1] != 13 {
						return false
					}
				}
				return true
			})
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			o.check()
			d, _ := o.snapshot()
			for _, p := range ps {
				if want := seq(tc.want[p], 14); !slices.Equal(d[p], want) {
					t.Errorf("partition %d: delivered %v, want %v", p, d[p], want)
				}
			}
		})
	}
}

// A member that owns a partition commits a hint; the next member resumes at
// max(its stored offset, the hint).
func TestGroupHint(t *testing.T) {
	const none = -1
	for _, tc := range []struct {
		name         string
		hint, stored int64 // none = absent
		want         int64
	}{
		{"hint only", 6, none, 6},
		{"hint above stored", 6, 3, 6},
		{"stored above hint", 6, 8, 8},
		{"neither", none, none, 0},
		{"hint at end", 10, none, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := kafkatest.Start(t, "events", 1)
			produceRange(t, addr, "events", []int32{0}, 0, 10)

			// a is paused, so it delivers nothing: it only hints. (A catalog
			// offset would be committed at its assignment.)
			a := newOwner(t, "a", newLake())
			ca, err := kafka.New(testConfig(addr, "events", "g"), a)
			if err != nil {
				t.Fatal(err)
			}
			ca.Pause()
			stopA, _, _ := run(t, ca)
			waitFor(t, 20*time.Second, "a assigned", func() bool { return len(ca.Assignment()) == 1 })
			if tc.hint != none {
				// Partition 5 does not exist / is not owned: skipped.
				if err := ca.CommitHint(context.Background(), map[int32]int64{0: tc.hint, 5: 3}); err != nil {
					t.Fatalf("CommitHint: %v", err)
				}
			}
			if err := stopA(); err != nil {
				t.Fatal(err)
			}

			b := newOwner(t, "b", newLake())
			if tc.stored != none {
				b.catalog[0] = tc.stored
			}
			cb, err := kafka.New(testConfig(addr, "events", "g"), b)
			if err != nil {
				t.Fatal(err)
			}
			stopB, _, _ := run(t, cb)
			waitFor(t, 20*time.Second, "b positioned", func() bool { return len(cb.Lag()) == 1 })
			produceRange(t, addr, "events", []int32{0}, 10, 12)
			waitFor(t, 20*time.Second, "offset 11", func() bool {
				d, _ := b.snapshot()
				return len(d[0]) > 0 && d[0][len(d[0])-1] == 11
			})
			if err := stopB(); err != nil {
				t.Fatal(err)
			}
			a.check()
			b.check()
			if d, _ := b.snapshot(); !slices.Equal(d[0], seq(tc.want, 12)) {
				t.Errorf("b delivered %v, want %v", d[0], seq(tc.want, 12))
			}
		})
	}
}

// The group's offset never lags, nor moves back below, what the owner of a
// partition resumed at. The member in the middle ("a") resumes at
// max(its catalog, the group's commit) and publishes nothing:
//   - catalog behind the group: its Revoked hints its catalog's offset, as
//     strata's supervisor does; committing that as is would move the group's
//     offset back and make the next owner re-read rows another owner holds;
//   - catalog ahead of the group (it published and was killed before its
//     hint): it hints nothing (killed again), yet the group must not stay
//     behind its catalog.
//
// Either way, the next member ("b", no catalog) resumes at a's resume offset.
func TestGroupOffsetFollowsResume(t *testing.T) {
	for _, tc := range []struct {
		name             string
		group, catalog   int64
		hintAtRevocation bool
	}{
		{"catalog behind the group", 8, 3, true},
		{"catalog ahead of the group", 3, 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := kafkatest.Start(t, "events", 1)
			produceRange(t, addr, "events", []int32{0}, 0, 8)

			x := newOwner(t, "x", newLake())
			cx, err := kafka.New(testConfig(addr, "events", "g"), x)
			if err != nil {
				t.Fatal(err)
			}
			cx.Pause() // x delivers nothing: it only commits the group's offset
			stopX, _, _ := run(t, cx)
			waitFor(t, 20*time.Second, "x assigned", func() bool { return len(cx.Assignment()) == 1 })
			if err := cx.CommitHint(context.Background(), map[int32]int64{0: tc.group}); err != nil {
				t.Fatalf("CommitHint: %v", err)
			}
			if err := stopX(); err != nil {
				t.Fatal(err)
			}

			a := newOwner(t, "a", newLake())
			a.catalog[0] = tc.catalog
			ca, err := kafka.New(testConfig(addr, "events", "g"), a)
			if err != nil {
				t.Fatal(err)
			}
			if tc.hintAtRevocation {
				a.c = ca
			}
			stopA, _, _ := run(t, ca)
			waitFor(t, 20*time.Second, "a positioned", func() bool { return len(ca.Lag()) == 1 })
			if err := stopA(); err != nil {
				t.Fatal(err)
			}

			b := newOwner(t, "b", newLake())
			cb, err := kafka.New(testConfig(addr, "events", "g"), b)
			if err != nil {
				t.Fatal(err)
			}
			stopB, _, _ := run(t, cb)
			waitFor(t, 20*time.Second, "b positioned", func() bool { return len(cb.Lag()) == 1 })
			produceRange(t, addr, "events", []int32{0}, 8, 12)
			waitFor(t, 20*time.Second, "offset 11", func() bool {
				d, _ := b.snapshot()
				return len(d[0]) > 0 && d[0][len(d[0])-1] == 11
			})
			if err := stopB(); err != nil {
				t.Fatal(err)
			}
			a.check()
			b.check()
			if d, _ := a.snapshot(); len(d[0]) > 0 {
				t.Errorf("a delivered %v, want nothing", d[0])
			}
			if d, _ := b.snapshot(); !slices.Equal(d[0], seq(8, 12)) {
				t.Errorf("b delivered %v, want %v (a resumed at 8)", d[0], seq(8, 12))
			}
		})
	}
}

// Two members split the partitions; when one leaves, the other takes its
// partitions over from the hints the leaver committed after publishing. Every
// record is published exactly once overall.
func TestHandoverExactlyOnce(t *testing.T) {
	ps := []int32{0, 1, 2, 3}
	addr, _ := kafkatest.Start(t, "events", 4)
	produceRange(t, addr, "events", ps, 0, 30)
	l := newLake()
	newMember := func(name string) (*owner, *kafka.Consumer) {
		o := newOwner(t, name, l)
		o.publishEvery = 7
		c, err := kafka.New(testConfig(addr, "events", "g"), o)
		if err != nil {
			t.Fatal(err)
		}
		o.c = c
		return o, c
	}
	a, ca := newMember("a")
	stopA, _, _ := run(t, ca)
	waitFor(t, 20*time.Second, "a owns all", func() bool { _, own := a.snapshot(); return len(own) == 4 })
	produceRange(t, addr, "events", ps, 30, 50)

	b, cb := newMember("b")
	stopB, _, _ := run(t, cb)
	waitFor(t, 30*time.Second, "a and b split", func() bool {
		_, ownA := a.snapshot()
		_, ownB := b.snapshot()
		return len(ownA) == 2 && len(ownB) == 2
	})
	produceRange(t, addr, "events", ps, 50, 70)
	// Cooperative-sticky: a gave up only the two partitions b took.
	a.mu.Lock()
	if len(a.revoked) != 1 || len(a.revoked[0]) != 2 {
		t.Errorf("a revoked %v before leaving, want one revocation of 2 partitions", a.revoked)
	}
	a.mu.Unlock()

	if err := stopA(); err != nil {
		t.Fatalf("a: Run: %v", err)
	}
	waitFor(t, 30*time.Second, "b owns all", func() bool { _, own := b.snapshot(); return len(own) == 4 })
	produceRange(t, addr, "events", ps, 70, 90)
	waitFor(t, 30*time.Second, "b at offset 89 everywhere", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range ps {
			if b.last[p] != 89 {
				return false
			}
		}
		return true
	})
	if err := stopB(); err != nil {
		t.Fatalf("b: Run: %v", err)
	}
	a.check()
	b.check()

	l.mu.Lock()
	defer l.mu.Unlock()
	want := 0
	for _, p := range ps {
		for off := range int64(90) {
			want++
			k := [2]int64{int64(p), off}
			if n := l.rows[k]; n != 1 {
				t.Errorf("partition %d offset %d published %d times", p, off, n)
			} else if v := l.vals[k]; v != fmt.Sprintf("p%d-%d", p, off) {
				t.Errorf("partition %d offset %d: value %q", p, off, v)
			}
		}
	}
	if len(l.rows) != want {
		t.Errorf("lake has %d rows, want %d", len(l.rows), want)
	}
}

func TestPauseResume(t *testing.T) {
	addr, _ := kafkatest.Start(t, "events", 1)
	produceRange(t, addr, "events", []int32{0}, 0, 10)
	o := newOwner(t, "a", newLake())
	c, err := kafka.New(testConfig(addr, "events", "g"), o)
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	stop, _, _ := run(t, c)
	delivered := func() int { d, _ := o.snapshot(); return len(d[0]) }
	waitFor(t, 20*time.Second, "10 records", func() bool { return delivered() == 10 })

	c.Pause()
	if !c.Paused() {
		t.Fatal("Paused() = false after Pause")
	}
	produceRange(t, addr, "events", []int32{0}, 10, 25)
	waitFor(t, 10*time.Second, "lag 15 while paused", func() bool { return c.Lag()[0] == 15 })
	time.Sleep(300 * time.Millisecond) // several FetchMaxWaits
	if n := delivered(); n != 10 {
		t.Fatalf("delivered %d records while paused, want 10", n)
	}
	c.Resume()
	if c.Paused() {
		t.Fatal("Paused() = true after Resume")
	}
	waitFor(t, 20*time.Second, "25 records", func() bool { return delivered() == 25 })
	waitFor(t, 10*time.Second, "lag 0", func() bool { return c.Lag()[0] == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	o.check()
	if d, _ := o.snapshot(); !slices.Equal(d[0], seq(0, 25)) {
		t.Errorf("delivered %v, want 0..24", d[0])
	}
}

// Pause and Resume racing with delivery never skip or repeat a record, and
// after Pause returns at most one more batch is delivered.
func TestPauseResumeRacing(t *testing.T) {
	const total = 3000
	addr, _ := kafkatest.Start(t, "events", 2)
	o := newOwner(t, "a", newLake())
	c, err := kafka.New(testConfig(addr, "events", "g"), o)
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	stop, _, _ := run(t, c)
	waitFor(t, 20*time.Second, "assignment", func() bool { return len(c.Lag()) == 2 })

	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for off := int64(0); off < total; off += 100 {
			produceRange(t, addr, "events", []int32{0, 1}, off, off+100)
		}
	}()
	calls := func() int { o.mu.Lock(); defer o.mu.Unlock(); return o.calls }
	for i := 0; ; i++ {
		select {
		case <-produced:
		default:
			c.Pause()
			before := calls()
			time.Sleep(time.Duration(i%7) * time.Millisecond)
			if n := calls(); n > before+1 {
				t.Errorf("%d Records calls while paused", n-before)
			}
			c.Resume()
			time.Sleep(time.Duration(i%5) * time.Millisecond)
			continue
		}
		break
	}
	waitFor(t, 30*time.Second, "all records", func() bool {
		d, _ := o.snapshot()
		return len(d[0]) >= total && len(d[1]) >= total
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	o.check()
	d, _ := o.snapshot()
	for _, p := range []int32{0, 1} {
		if !slices.Equal(d[p], seq(0, total)) {
			t.Errorf("partition %d: %d records delivered, not exactly 0..%d in order", p, len(d[p]), total-1)
		}
	}
}

func TestLag(t *testing.T) {
	addr, _ := kafkatest.Start(t, "events", 2)
	produceRange(t, addr, "events", []int32{0}, 0, 15)
	produceRange(t, addr, "events", []int32{1}, 0, 4)
	o := newOwner(t, "a", newLake())
	o.catalog[0] = 5
	c, err := kafka.New(testConfig(addr, "events", "g"), o)
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	c.Pause() // before Run: nothing is delivered, positions are still set
	stop, _, _ := run(t, c)
	lagIs := func(want map[int32]int64) func() bool {
		return func() bool {
			got := c.Lag()
			if len(got) != len(want) {
				return false
			}
			for p, n := range want {
				if got[p] != n {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 20*time.Second, "lag {0:10 1:4}", lagIs(map[int32]int64{0: 10, 1: 4}))
	produceRange(t, addr, "events", []int32{0}, 15, 18)
	waitFor(t, 10*time.Second, "lag {0:13 1:4} (refreshed while paused)", lagIs(map[int32]int64{0: 13, 1: 4}))
	c.Resume()
	waitFor(t, 20*time.Second, "lag {0:0 1:0}", lagIs(map[int32]int64{0: 0, 1: 0}))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	o.check()
	d, _ := o.snapshot()
	if !slices.Equal(d[0], seq(5, 18)) || !slices.Equal(d[1], seq(0, 4)) {
		t.Errorf("delivered %v, want partition 0: 5..17, partition 1: 0..3", d)
	}
	if got := c.Lag(); len(got) != 0 {
		t.Errorf("Lag after Run = %v, want empty (nothing owned)", got)
	}
}

// A Records error stops Run, which returns it after the final Revoked.
func TestRecordsErrorStopsRun(t *testing.T) {
	addr, _ := kafkatest.Start(t, "events", 1)
	produceRange(t, addr, "events", []int32{0}, 0, 10)
	o := newOwner(t, "a", newLake())
	o.failAt = 3
	c, err := kafka.New(testConfig(addr, "events", "g"), o)
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	_, done, runErr := run(t, c)
	select {
	case <-done:
		err := runErr()
		if err == nil || !strings.Contains(err.Error(), "injected failure at offset 3") {
			t.Fatalf("Run: %v, want the injected failure", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop on a Records error")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.owned) != 0 || len(o.revoked) != 1 {
		t.Errorf("after Run: owned %v, revoked %v; want nothing owned, one revocation", o.owned, o.revoked)
	}
}

type failingAssign struct{ *owner }

func (f failingAssign) Assigned(context.Context, []int32) (map[int32]int64, error) {
	return nil, errors.New("catalog unavailable")
}

func TestAssignedErrorStopsRun(t *testing.T) {
	addr, _ := kafkatest.Start(t, "events", 2)
	produceRange(t, addr, "events", []int32{0, 1}, 0, 5)
	o := newOwner(t, "a", newLake())
	c, err := kafka.New(testConfig(addr, "events", "g"), failingAssign{o})
	if err != nil {
		t.Fatal(err)
	}
	_, done, runErr := run(t, c)
	select {
	case <-done:
		err := runErr()
		if err == nil || !strings.Contains(err.Error(), "catalog unavailable") {
			t.Fatalf("Run: %v, want the Assigned error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop on an Assigned error")
	}
	if d, _ := o.snapshot(); len(d) != 0 {
		t.Errorf("delivered %v after a failed Assigned", d)
	}
}

func saslOpt(t *testing.T, mech, user, pass string) kgo.Opt {
	t.Helper()
	switch mech {
	case "PLAIN":
		return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())
	case "SCRAM-SHA-256":
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())
	case "SCRAM-SHA-512":
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
	}
	t.Fatalf("mechanism %s", mech)
	return nil
}

func TestSASL(t *testing.T) {
	for _, tc := range []struct {
		mech     string
		password string // the consumer's; the broker's is "s3cret"
	}{
		{"PLAIN", "s3cret"},
		{"SCRAM-SHA-256", "s3cret"},
		{"SCRAM-SHA-512", "s3cret"},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			addr, _ := kafkatest.Start(t, "events", 2, kfake.EnableSASL(), kfake.Superuser(tc.mech, "strata", "s3cret"))
			var msgs []kafkatest.Message
			for p := range int32(2) {
				for off := range 5 {
					msgs = append(msgs, kafkatest.Message{Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, off)})
				}
			}
			kafkatest.Produce(t, addr, "events", msgs, saslOpt(t, tc.mech, "strata", "s3cret"))

			o := newOwner(t, "a", newLake())
			cfg := testConfig(addr, "events", "g")
			cfg.SASL = kafka.SASL{Mechanism: tc.mech, User: "strata", Password: tc.password}
			c, err := kafka.New(cfg, o)
			if err != nil {
				t.Fatal(err)
			}
			o.c = c
			stop, _, _ := run(t, c)
			waitFor(t, 20*time.Second, "10 records", func() bool {
				d, _ := o.snapshot()
				return len(d[0]) == 5 && len(d[1]) == 5
			})
			if err := c.CommitHint(context.Background(), map[int32]int64{0: 5, 1: 5}); err != nil {
				t.Errorf("CommitHint over SASL: %v", err)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			o.check()
			d, _ := o.snapshot()
			if !slices.Equal(d[0], seq(0, 5)) || !slices.Equal(d[1], seq(0, 5)) {
				t.Errorf("delivered %v", d)
			}
		})
	}
}

// A wrong password: kfake drops the connection (EOF), which franz-go retries
// forever, so Run keeps trying and delivers nothing. A real broker answers
// SASL_AUTHENTICATION_FAILED first; injected here, it stops Run.
func TestSASLWrongPassword(t *testing.T) {
	for _, tc := range []struct {
		name    string
		inject  bool
		wantErr string
	}{
		{"kfake drops the connection", false, ""},
		{"broker answers SASL_AUTHENTICATION_FAILED", true, "SASL_AUTHENTICATION_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, "events"),
				kfake.EnableSASL(), kfake.Superuser("PLAIN", "strata", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			addr := cluster.ListenAddrs()[0]
			kafkatest.Produce(t, addr, "events", []kafkatest.Message{{Value: []byte("p0-0")}}, saslOpt(t, "PLAIN", "strata", "s3cret"))
			if tc.inject {
				cluster.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
					cluster.KeepControl()
					resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
					resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
					resp.ErrorMessage = kmsg.StringPtr("Authentication failed: Invalid username or password")
					return resp, nil, true
				})
			}
			o := newOwner(t, "a", newLake())
			cfg := testConfig(addr, "events", "g")
			cfg.SASL = kafka.SASL{Mechanism: "PLAIN", User: "strata", Password: "wrong"}
			c, err := kafka.New(cfg, o)
			if err != nil {
				t.Fatal(err)
			}
			stop, done, runErr := run(t, c)
			select {
			case <-done:
				if err := runErr(); tc.wantErr == "" || err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Run: %v, want %q", err, tc.wantErr)
				}
			case <-time.After(3 * time.Second):
				if tc.wantErr != "" {
					t.Fatal("Run did not fail")
				}
				if err := stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}
			}
			if d, _ := o.snapshot(); len(d) != 0 {
				t.Errorf("delivered %v with a wrong password", d)
			}
		})
	}
}

// kcat (librdkafka, an independent client) produces; the Consumer consumes.
func TestKcatProducer(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat not found (Debian package kcat)")
		}
		t.Skip("install kcat (apt-get install -y kcat) to run this test")
	}
	addr, _ := kafkatest.Start(t, "events", 2)
	// Expected records, built independently of the consumer: partition →
	// key:value lines in offset order.
	want := map[int32][][2]string{}
	for p := range int32(2) {
		var lines strings.Builder
		for i := range 20 {
			k, v := fmt.Sprintf("user-%d", i%3), fmt.Sprintf(`{"event":"view","p":%d,"i":%d}`, p, i)
			want[p] = append(want[p], [2]string{k, v})
			fmt.Fprintf(&lines, "%s\t%s\n", k, v)
		}
		cmd := exec.Command(kcat, "-b", addr, "-t", "events", "-P", "-p", fmt.Sprint(p), "-K", "\t")
		cmd.Stdin = strings.NewReader(lines.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat: %v\n%s", err, out)
		}
	}

	h := &recorder{}
	c, err := kafka.New(testConfig(addr, "events", "g"), h)
	if err != nil {
		t.Fatal(err)
	}
	stop, _, _ := run(t, c)
	waitFor(t, 20*time.Second, "40 records", func() bool { return h.count() == 40 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for p := range int32(2) {
		got := h.recs[p]
		if len(got) != len(want[p]) {
			t.Fatalf("partition %d: %d records, want %d", p, len(got), len(want[p]))
		}
		for i, r := range got {
			if r.Offset != int64(i) || string(r.Key) != want[p][i][0] || string(r.Value) != want[p][i][1] {
				t.Errorf("partition %d record %d: offset %d key %q value %q, want %d %q %q",
					p, i, r.Offset, r.Key, r.Value, i, want[p][i][0], want[p][i][1])
			}
			if r.Timestamp.IsZero() || time.Since(r.Timestamp) > time.Hour {
				t.Errorf("partition %d record %d: timestamp %v", p, i, r.Timestamp)
			}
		}
	}
}

// recorder is a Handler that keeps every record; it stores nothing.
type recorder struct {
	mu   sync.Mutex
	recs map[int32][]kafka.Record
}

func (r *recorder) Assigned(context.Context, []int32) (map[int32]int64, error) { return nil, nil }
func (r *recorder) Revoked(context.Context, []int32)                           {}
func (r *recorder) Records(_ context.Context, recs []kafka.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recs == nil {
		r.recs = make(map[int32][]kafka.Record)
	}
	for _, rec := range recs {
		r.recs[rec.Partition] = append(r.recs[rec.Partition], rec)
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rs := range r.recs {
		n += len(rs)
	}
	return n
}

// lostOwner forgets, rather than publishes, what it holds of lost partitions.
type lostOwner struct {
	*owner
	lost [][]int32
}

func (o *lostOwner) Lost(_ context.Context, ps []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lost = append(o.lost, slices.Clone(ps))
	for _, p := range ps {
		if !o.owned[p] {
			o.errorf("Lost partition %d not owned", p)
		}
		delete(o.head, p)
		delete(o.owned, p)
	}
}

// The member is fenced (a heartbeat answers UNKNOWN_MEMBER_ID): its
// partitions are Lost, not Revoked; it rejoins, is assigned them again and
// resumes from its catalog, so forgotten rows are read again and every record
// is published exactly once.
func TestLostPartitions(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(2, "events"),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]
	ps := []int32{0, 1}
	produceRange(t, addr, "events", ps, 0, 20)

	l := newLake()
	o := &lostOwner{owner: newOwner(t, "a", l)}
	o.catalog[1] = 5 // published earlier: partition 1 resumes at 5
	c, err := kafka.New(testConfig(addr, "events", "g"), o)
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	stop, _, _ := run(t, c)
	waitFor(t, 20*time.Second, "first delivery", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.last[0] == 19 && o.last[1] == 19
	})
	cluster.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp, nil, true
	})
	waitFor(t, 30*time.Second, "lost and re-assigned", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return len(o.lost) == 1 && o.owned[0] && o.owned[1]
	})
	produceRange(t, addr, "events", ps, 20, 25)
	waitFor(t, 20*time.Second, "second delivery", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.last[0] == 24 && o.last[1] == 24
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	o.check()
	o.mu.Lock()
	defer o.mu.Unlock()
	if !slices.Equal(o.lost[0], ps) || len(o.revoked) != 1 {
		t.Errorf("lost %v revoked %v; want lost [[0 1]], one final revocation", o.lost, o.revoked)
	}
	for _, p := range ps {
		// Delivered in the first assignment, forgotten, delivered again.
		from := map[int32]int64{0: 0, 1: 5}[p] // the log start; the stored offset
		if want := append(seq(from, 20), seq(from, 25)...); !slices.Equal(o.delivered[p], want) {
			t.Errorf("partition %d: delivered %v, want %v", p, o.delivered[p], want)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, n := range l.rows {
		if n != 1 {
			t.Errorf("partition %d offset %d published %d times", k[0], k[1], n)
		}
	}
	if len(l.rows) != 25+20 {
		t.Errorf("published %d rows, want 45", len(l.rows))
	}
}

// A stored offset below the log start (retention deleted the records) resumes
// at the log start: the deleted records are gone, nothing that exists is
// skipped.
func TestResumeBelowLogStart(t *testing.T) {
	addr, _ := kafkatest.Start(t, "events", 1)
	produceRange(t, addr, "events", []int32{0}, 0, 10)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "events"
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 6
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(context.Background(), cl)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("delete records: %v", err)
	}

	o := newOwner(t, "a", newLake())
	o.catalog[0] = 2
	c, err := kafka.New(testConfig(addr, "events", "g"), o)
	if err != nil {
		t.Fatal(err)
	}
	stop, _, _ := run(t, c)
	waitFor(t, 20*time.Second, "offset 9", func() bool { d, _ := o.snapshot(); return len(d[0]) > 0 && d[0][len(d[0])-1] == 9 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	o.check()
	if d, _ := o.snapshot(); !slices.Equal(d[0], seq(6, 10)) {
		t.Errorf("delivered %v, want 6..9", d[0])
	}
}

// Members join and leave while records are being produced; each publishes
// every few rows and at Revoked, hinting after each publish. Every record is
// published exactly once overall.
func TestChurnExactlyOnce(t *testing.T) {
	const rounds, perRound = 30, 10
	ps := []int32{0, 1, 2, 3, 4, 5}
	addr, _ := kafkatest.Start(t, "events", int32(len(ps)))
	l := newLake()
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for r := range int64(rounds) {
			produceRange(t, addr, "events", ps, r*perRound, (r+1)*perRound)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	type member struct {
		o    *owner
		c    *kafka.Consumer
		stop func() error
	}
	start := func(name string) member {
		o := newOwner(t, name, l)
		o.publishEvery = 13
		c, err := kafka.New(testConfig(addr, "events", "g"), o)
		if err != nil {
			t.Fatal(err)
		}
		o.c = c
		stop, _, _ := run(t, c)
		return member{o, c, stop}
	}
	stopM := func(m member) {
		if err := m.stop(); err != nil {
			t.Errorf("%s: Run: %v", m.o.name, err)
		}
		m.o.check()
	}
	a := start("a")
	time.Sleep(150 * time.Millisecond)
	b := start("b")
	time.Sleep(150 * time.Millisecond)
	c := start("c")
	time.Sleep(150 * time.Millisecond)
	stopM(a)
	d := start("d")
	time.Sleep(150 * time.Millisecond)
	stopM(b)
	time.Sleep(100 * time.Millisecond)
	stopM(c)
	<-produced
	// d owns every partition and has read each to its end: it delivered the last
	// record, or it resumed at the end (a member before it read everything and
	// hinted so; this happens when the machine is slow).
	waitFor(t, 30*time.Second, "d at the end of every partition", func() bool {
		lag := d.c.Lag()
		d.o.mu.Lock()
		defer d.o.mu.Unlock()
		for _, p := range ps {
			l, known := lag[p]
			if !d.o.owned[p] || !known || l != 0 || (d.o.last[p] != rounds*perRound-1 && d.o.last[p] != -1) {
				return false
			}
		}
		return true
	})
	stopM(d)

	l.mu.Lock()
	defer l.mu.Unlock()
	bad := 0
	for _, p := range ps {
		for off := range int64(rounds * perRound) {
			if n := l.rows[[2]int64{int64(p), off}]; n != 1 {
				if bad++; bad < 20 {
					t.Errorf("partition %d offset %d published %d times", p, off, n)
				}
			}
		}
	}
	if len(l.rows) != len(ps)*rounds*perRound {
		t.Errorf("lake has %d rows, want %d", len(l.rows), len(ps)*rounds*perRound)
	}
}
