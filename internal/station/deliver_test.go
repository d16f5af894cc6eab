package station

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/server/servertest"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// gate is a TCP proxy in front of the store that the test opens and
// closes: closed, it accepts connections and drops them at once, as a
// store that is down or a network that is cut looks to a client.
type gate struct {
	ln   net.Listener
	to   string
	open atomic.Bool
	wg   sync.WaitGroup
}

func newGate(t *testing.T, to string) *gate {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, to: to}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !g.open.Load() {
				c.Close()
				continue
			}
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				defer c.Close()
				s, err := net.Dial("tcp", g.to)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { io.Copy(s, c); s.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, s)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return g
}

func (g *gate) URL() string { return "https://" + g.ln.Addr().String() }

type testStore struct {
	st *store.Store
	ts *httptest.Server
}

func startStore(t *testing.T) *testStore {
	t.Helper()
	ctx := context.Background()
	st, ts := servertest.Start(t, store.Config{Dir: t.TempDir(), Origin: "test.lethe/agent"})
	if _, err := st.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	return &testStore{st: st, ts: ts}
}

func (s *testStore) token(t *testing.T, job string) string {
	tok, _, err := s.st.CreateEnrollmentToken(context.Background(), job, time.Hour, 1, store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s *testStore) count(t *testing.T) int {
	var n int
	if err := s.st.DB.QueryRow(`SELECT count(*) FROM certificates`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var zeroPattern = wipe.PatternSpec{Kind: "bytes", Name: "zero", Bytes: "00"}

// certificate signs a certificate for a described drive (never opened).
func certificate(t *testing.T, key ed25519.PrivateKey, serial, job string) []byte {
	t.Helper()
	end := time.Now().UTC().Truncate(time.Second)
	st, err := NewStatement(CertInput{
		Device: &devices.Device{Path: "/dev/sdz", Name: "sdz", Kind: devices.KindDisk, Transport: devices.TransportSATA, Media: devices.MediaSSD, Model: "DISK", Serial: serial, SizeBytes: 1 << 20, LogicalSectorSize: 512}, // fixture: never opened
		Report: &wipe.Report{Status: wipe.StatusErased, StatusReason: "read back", Technique: wipe.TechOverwrite, Category: wipe.CategoryClear,
			Method: wipe.Method{Name: "random", Passes: []string{"random"}}, SizeBytes: 1 << 20, SectorSize: 512, Started: end.Add(-time.Second), Ended: end,
			Passes:       []wipe.PassReport{{Index: 1, Pattern: zeroPattern, Started: end.Add(-time.Second), Ended: end, BytesWritten: 1 << 20}},
			Verification: wipe.VerifyReport{Scope: "full", Pass: 1, Expected: zeroPattern, Coverage: 100, Bytes: 1 << 20, Result: wipe.VerifyPassed}},
		Personnel: cert.Personnel{Operator: "agent", Job: job},
		Tool:      cert.Tool{Name: "lethe", Version: "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := attest.Sign(st, sign.KeySigner{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func newDeliverer(t *testing.T, s *testStore, url, token, job string, key ed25519.PrivateKey) (*Deliverer, *client.Spool) {
	t.Helper()
	c, err := client.New(url, client.Options{HTTPClient: s.ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := client.OpenSpool(t.TempDir(), c)
	if err != nil {
		t.Fatal(err)
	}
	u := NewDeliverer(c, sp, Enrollment{Token: token, Job: job, Key: key.Public().(ed25519.PublicKey)}, client.Retry{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		func(f string, a ...any) { t.Logf(f, a...) })
	return u, sp
}

// TestDelivererStoreDownThenUp: certificates made while the store is
// unreachable stay pending, enrollment and submission are retried, and
// once the store answers every certificate arrives with a verified receipt.
func TestDelivererStoreDownThenUp(t *testing.T) {
	s := startStore(t)
	g := newGate(t, s.ts.Listener.Addr().String())
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	u, sp := newDeliverer(t, s, g.URL(), s.token(t, "J1"), "J1", key)
	u.PinServerKey(s.st.ServerKey())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	close(ready)
	go u.Run(ctx, ready)

	var ids []string
	for _, serial := range []string{"S1", "S2", "S3"} {
		id, err := u.Add(certificate(t, key, serial, "J1"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	waitFor(t, "retries against the closed gate", func() bool { return u.Status().Attempts >= 3 })
	st := u.Status()
	if st.Enrolled || st.Count(Pending) != 3 || st.LastError == "" {
		t.Fatalf("while down: %+v", st)
	}
	if p, _ := sp.Pending(); len(p) != 3 || s.count(t) != 0 {
		t.Fatalf("while down: %d pending in the spool, %d in the store", len(p), s.count(t))
	}
	g.open.Store(true)
	waitFor(t, "delivery", func() bool { return u.Status().Done() })
	if n := s.count(t); n != 3 {
		t.Errorf("store has %d certificates, want 3", n)
	}
	for _, id := range ids {
		if u.Status().States[id] != Delivered {
			t.Errorf("%s: %s", id, u.Status().States[id])
		}
		if _, err := sp.Receipt(id); err != nil {
			t.Errorf("receipt %s: %v", id, err)
		}
	}
	// A certificate added later is sent without waiting for a retry timer.
	if _, err := u.Add(certificate(t, key, "S4", "J1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fourth certificate", func() bool { return u.Status().Done() && s.count(t) == 4 })
}

func TestDelivererRefusals(t *testing.T) {
	s := startStore(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ready := make(chan struct{})
	close(ready)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A token the store never minted: hopeless, certificates stay pending.
	u, _ := newDeliverer(t, s, s.ts.URL, "lenr_forged", "J1", key)
	go u.Run(ctx, ready)
	if _, err := u.Add(certificate(t, key, "S1", "J1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refusal", func() bool { return u.Status().Hopeless() })
	if st := u.Status(); st.EnrollRefused == "" || st.Count(Pending) != 1 || u.Status().Done() {
		t.Errorf("after a refused enrollment: %+v", st)
	}

	// A certificate of another job than the token's: rejected.
	u2, _ := newDeliverer(t, s, s.ts.URL, s.token(t, "J2"), "J2", key)
	go u2.Run(ctx, ready)
	id, err := u2.Add(certificate(t, key, "S2", "J3"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rejection", func() bool { return u2.Status().Hopeless() })
	if st := u2.Status(); st.States[id] != Rejected || !strings.Contains(st.Reasons[id], "job") {
		t.Errorf("after a job mismatch: %+v", st)
	}
}
