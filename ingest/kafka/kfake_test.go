package kafka_test

// Behaviour of the embedded broker (franz-go's kfake) that strata must live
// with, written down as tests so that a kfake upgrade that changes it is
// noticed. The group coordinator is driven with raw requests, so each test
// fixes every step and does not depend on a client's timing.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratadb/strata/ingest/kafka"
	"github.com/stratadb/strata/ingest/kafka/kafkatest"
)

const (
	ghostGroup   = "g"
	ghostTopic   = "t"
	ghostSession = 500 * time.Millisecond
	ghostRebal   = time.Second
)

// rawMember is a classic-protocol group member driven request by request.
type rawMember struct {
	t        *testing.T
	cl       *kgo.Client
	id       string
	instance *string
	gen      int32
	// session and rebalance timeouts; zero: ghostSession, ghostRebal
	session, rebal time.Duration
}

func newRawMember(t *testing.T, addr string, instance *string) *rawMember {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &rawMember{t: t, cl: cl, instance: instance}
}

func (m *rawMember) joinRequest() *kmsg.JoinGroupRequest {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 0
	meta.Topics = []string{ghostTopic}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = ghostGroup
	session, rebal := ghostSession, ghostRebal
	if m.session > 0 {
		session, rebal = m.session, m.rebal
	}
	req.SessionTimeoutMillis = int32(session / time.Millisecond)
	req.RebalanceTimeoutMillis = int32(rebal / time.Millisecond)
	req.MemberID = m.id
	req.InstanceID = m.instance
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "cooperative-sticky"
	p.Metadata = meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	return req
}

// join sends JoinGroup (twice for a dynamic member: the first answer is
// MEMBER_ID_REQUIRED) and returns the final response.
func (m *rawMember) join(ctx context.Context) (*kmsg.JoinGroupResponse, error) {
	for {
		resp, err := m.joinRequest().RequestWith(ctx, m.cl)
		if err != nil {
			return nil, err
		}
		if resp.MemberID != "" {
			m.id = resp.MemberID
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err == kerr.MemberIDRequired {
			continue
		} else if err != nil {
			return resp, err
		}
		m.gen = resp.Generation
		return resp, nil
	}
}

func (m *rawMember) sync(assign map[string][]int32) []int32 {
	m.t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group = ghostGroup
	req.Generation = m.gen
	req.MemberID = m.id
	req.InstanceID = m.instance
	req.ProtocolType = kmsg.StringPtr("consumer")
	req.Protocol = kmsg.StringPtr("cooperative-sticky")
	for id, ps := range assign {
		a := kmsg.NewConsumerMemberAssignment()
		tp := kmsg.NewConsumerMemberAssignmentTopic()
		tp.Topic, tp.Partitions = ghostTopic, ps
		a.Topics = append(a.Topics, tp)
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a.AppendTo(nil)
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	resp, err := req.RequestWith(context.Background(), m.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		m.t.Fatalf("sync of %s: %v", m.id, err)
	}
	return decodeAssignment(m.t, resp.MemberAssignment)
}

func (m *rawMember) heartbeat() error {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.Generation, req.MemberID, req.InstanceID = ghostGroup, m.gen, m.id, m.instance
	resp, err := req.RequestWith(context.Background(), m.cl)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}

func decodeAssignment(t *testing.T, b []byte) []int32 {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	a := kmsg.NewConsumerMemberAssignment()
	if err := a.ReadFrom(b); err != nil {
		t.Fatalf("decode assignment: %v", err)
	}
	var ps []int32
	for _, tp := range a.Topics {
		ps = append(ps, tp.Partitions...)
	}
	slices.Sort(ps)
	return ps
}

// describe returns the group's state and each member's assignment.
func describe(t *testing.T, cl *kgo.Client) (string, map[string][]int32) {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{ghostGroup}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || len(resp.Groups) != 1 {
		t.Fatalf("describe group: %v", err)
	}
	g := resp.Groups[0]
	members := map[string][]int32{}
	for _, m := range g.Members {
		members[m.MemberID] = decodeAssignment(t, m.MemberAssignment)
	}
	return g.State, members
}

// ghostSetup builds the state strata's crash loop left behind: a live leader L
// alone in a stable group; a member G (a strata incarnation) joins, and its
// process dies while its JoinGroup waits for L to rejoin; L rejoins, and the
// generation completes with G in it. L, as leader, assigns G half the topic
// (what a balancer does when neither member owned anything). It returns L and
// G's member id.
func ghostSetup(t *testing.T, instance *string) (addr string, l *rawMember, ghost string) {
	t.Helper()
	addr, _ = kafkatest.Start(t, ghostTopic, 4)
	ctx := context.Background()
	l = newRawMember(t, addr, nil)
	if _, err := l.join(ctx); err != nil {
		t.Fatalf("L joins: %v", err)
	}
	l.sync(map[string][]int32{l.id: {}})

	// G joins; the group waits for L. Its process then dies with the
	// JoinGroup unanswered: closing its client closes its connections.
	g := newRawMember(t, addr, instance)
	joined := make(chan error, 1)
	go func() { _, err := g.join(ctx); joined <- err }()
	waitFor(t, 10*time.Second, "G parked in JoinGroup", func() bool {
		st, members := describe(t, l.cl)
		return st == "PreparingRebalance" && len(members) == 2
	})
	g.cl.Close()
	<-joined
	time.Sleep(100 * time.Millisecond) // kfake sees the connection's EOF

	// L sees the rebalance on its next heartbeat and rejoins; it is still the
	// leader, and the dead G is in the new generation.
	if err := l.heartbeat(); err != kerr.RebalanceInProgress {
		t.Fatalf("L's heartbeat during the rebalance: %v, want REBALANCE_IN_PROGRESS", err)
	}
	resp, err := l.join(ctx)
	if err != nil {
		t.Fatalf("L rejoins: %v", err)
	}
	if resp.LeaderID != l.id || len(resp.Members) != 2 {
		t.Fatalf("L's rejoin: leader %s with %d members, want L with 2", resp.LeaderID, len(resp.Members))
	}
	for _, m := range resp.Members {
		if m.MemberID != l.id {
			ghost = m.MemberID
		}
	}
	if got := l.sync(map[string][]int32{l.id: {0, 3}, ghost: {1, 2}}); !slices.Equal(got, []int32{0, 3}) {
		t.Fatalf("L synced with %v, want [0 3]", got)
	}
	return addr, l, ghost
}

// TestKfakeKeepsMemberKilledInJoin: kfake starts a member's session timer
// only when a JoinGroup or SyncGroup answer is handed to its connection
// (group.reply) or it heartbeats. A new member whose process died while its
// JoinGroup waited for the rebalance is put in the next generation anyway;
// the answer goes to a closed connection, and whether kfake notices depends on
// a select between the connection's done channel and room in its 2-slot
// response buffer (clientReq.reply): about half the time it does, starts no
// timer, and the member is never removed, since the leader's SyncGroup closes
// the sync barrier. Its partitions then belong to nobody alive, forever,
// while the live member sees a stable group. (Kafka removes such a member at
// its session timeout.) This is issue 15's "only half the partitions after a
// crash loop": it needs a dead, timer-less member and the live incarnation as
// leader, two coin flips, hence intermittent. Strata avoids it with static
// membership (TestKfakeStaticMemberReplacesGhost) and reports partitions that
// nobody reads (state 'unassigned').
//
// The test repeats the setup until the coin falls that way (at most 12
// times; each fails with probability about 1/2).
func TestKfakeKeepsMemberKilledInJoin(t *testing.T) {
	for attempt := 1; attempt <= 12; attempt++ {
		var kept bool
		t.Run("attempt", func(t *testing.T) {
			_, l, ghost := ghostSetup(t, nil)
			// Many session and rebalance timeouts later, with L
			// heartbeating, G is still a member and still holds [1 2].
			wait := 6*ghostSession + 2*ghostRebal
			for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(ghostSession / 5) {
				if err := l.heartbeat(); err == kerr.RebalanceInProgress {
					// G's session timer ran: kfake saw the answer as sent.
					t.Logf("attempt %d: the dead member got a session timer and was removed", attempt)
					return
				} else if err != nil {
					t.Fatalf("L's heartbeat: %v", err)
				}
			}
			st, members := describe(t, l.cl)
			if st != "Stable" || !slices.Equal(members[ghost], []int32{1, 2}) || !slices.Equal(members[l.id], []int32{0, 3}) {
				t.Fatalf("after %v: group %s, members %v", wait, st, members)
			}
			kept = true
			t.Logf("attempt %d: dead member %s still holds [1 2] after %v of stable group (session timeout %v)", attempt, ghost, wait, ghostSession)
		})
		if kept || t.Failed() {
			return
		}
	}
	t.Fatal("in 12 attempts kfake removed every dead member at its session timeout: its behaviour changed; " +
		"revisit this test, the package comment and strata's defences against it")
}

// TestKfakeStaticMemberReplacesGhost: with a group.instance.id (KIP-345), a
// new incarnation joining with the dead one's instance id replaces it at
// once: kfake fences the old member id and hands the newcomer the old
// assignment without a rebalance, so nothing stays assigned to a dead process.
func TestKfakeStaticMemberReplacesGhost(t *testing.T) {
	instance := kmsg.StringPtr("strata-node-ev")
	addr, l, ghost := ghostSetup(t, instance)
	n := newRawMember(t, addr, instance)
	start := time.Now()
	resp, err := n.join(context.Background())
	if err != nil {
		t.Fatalf("the new incarnation joins: %v", err)
	}
	if n.id == ghost {
		t.Fatalf("the new incarnation got the dead one's member id %s", ghost)
	}
	if resp.LeaderID != l.id {
		t.Fatalf("leader %s, want L %s (no rebalance)", resp.LeaderID, l.id)
	}
	got := n.sync(nil)
	took := time.Since(start)
	if !slices.Equal(got, []int32{1, 2}) {
		t.Fatalf("the new incarnation was assigned %v, want the dead one's [1 2]", got)
	}
	st, members := describe(t, l.cl)
	if _, still := members[ghost]; still || st != "Stable" || len(members) != 2 {
		t.Fatalf("group %s with members %v, want Stable with L and the new incarnation only", st, members)
	}
	// L was not disturbed.
	if err := l.heartbeat(); err != nil {
		t.Fatalf("L's heartbeat after the replacement: %v", err)
	}
	t.Logf("the new incarnation took the dead one's partitions in %v", took)
}

// TestRunReturnsDuringRebalance: Run is stopped while its JoinGroup waits for
// a rebalance that another member (alive, stable, slow to rejoin) holds open
// for 30 s. franz-go's leave waits for that join; Run cancels it and returns
// within its LeaveTimeout and a little more, not at the rebalance timeout, so
// SIGTERM can end strata within 5 s during a rebalance.
func TestRunReturnsDuringRebalance(t *testing.T) {
	addr, _ := kafkatest.Start(t, ghostTopic, 4)
	l := newRawMember(t, addr, nil)
	l.session, l.rebal = 30*time.Second, 30*time.Second
	if _, err := l.join(context.Background()); err != nil {
		t.Fatalf("L joins: %v", err)
	}
	l.sync(map[string][]int32{l.id: {0, 1, 2, 3}})

	o := newOwner(t, "a", newLake())
	cfg := testConfig(addr, ghostTopic, ghostGroup)
	cfg.InstanceID = "strata-test-a"
	c, err := kafka.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	stop, _, _ := run(t, c)
	waitFor(t, 10*time.Second, "the consumer's JoinGroup parked", func() bool {
		st, members := describe(t, l.cl)
		return st == "PreparingRebalance" && len(members) == 2
	})
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	took := time.Since(began)
	if limit := 2*time.Second + 1500*time.Millisecond; took > limit {
		t.Fatalf("Run returned %v after its context ended during a rebalance, want at most %v", took, limit)
	}
	t.Logf("Run returned %v after its context ended, during a rebalance held open for 30 s", took.Round(time.Millisecond))
}
