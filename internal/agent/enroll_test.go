package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/server/servertest"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/station"
)

// awaitEnrollment holds the first write until the store accepted the
// per-boot key, and turns a refused token into "nothing was written".
func TestAwaitEnrollment(t *testing.T) {
	ctx := context.Background()
	st, ts := servertest.Start(t, store.Config{Dir: t.TempDir(), Origin: "test.lethe/agent"})
	if _, err := st.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	good, _, err := st.CreateEnrollmentToken(ctx, "J1", time.Hour, 1, store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(token string) error {
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		c, err := client.New(ts.URL, client.Options{HTTPClient: ts.Client()})
		if err != nil {
			t.Fatal(err)
		}
		sp, err := client.OpenSpool(t.TempDir(), c)
		if err != nil {
			t.Fatal(err)
		}
		r := &agentRun{con: NewConsole(io.Discard), log: slog.New(slog.DiscardHandler), start: time.Now()}
		r.dlv = station.NewDeliverer(c, sp, station.Enrollment{Token: token, Job: "J1", Key: key.Public().(ed25519.PublicKey)},
			client.Retry{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}, nil)
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		ready := make(chan struct{})
		close(ready)
		go r.dlv.Run(ctx, ready)
		return r.awaitEnrollment(ctx)
	}
	if err := run(good); err != nil {
		t.Errorf("a valid token: %v", err)
	}
	err = run("lenr_forged")
	if err == nil || !strings.Contains(err.Error(), "refused the enrollment token") || !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("a forged token: %v", err)
	}
}
