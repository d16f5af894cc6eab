package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/certtest"
)

// TestKillMidIngest kills the server with SIGKILL while clients submit
// certificates, restarts it, and checks that every certificate it had
// acknowledged is still there with the same receipt.
func TestKillMidIngest(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	pubFile := filepath.Join(work, "station.pub")
	os.WriteFile(pubFile, sign.MarshalPublicKey(pub), 0o644)
	data := filepath.Join(work, "audit")
	srv := startServer(t, data, "--trust-key", pubFile, "--backup-interval", "0")
	addr := strings.TrimPrefix(srv.URL, "https://")
	c := srv.client(t, "")

	type acked struct {
		env []byte
		rc  *receipt.Receipt
	}
	var mu sync.Mutex
	var acks []acked
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				env := certtest.MustSign(key, certtest.Drive{Serial: "KILL-" + itoa(w) + "-" + itoa(i), Job: "CRASH"})
				rc, err := c.Submit(ctx, env)
				if err != nil {
					return // the server died under us: this one was not acknowledged
				}
				mu.Lock()
				acks = append(acks, acked{env, rc})
				mu.Unlock()
				n.Add(1)
			}
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for n.Load() < 200 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	srv.kill() // SIGKILL, mid-ingest
	close(stop)
	wg.Wait()
	if len(acks) < 50 {
		t.Fatalf("only %d acknowledged before the kill", len(acks))
	}
	srv = startServerAt(t, data, addr, "--trust-key", pubFile, "--backup-interval", "0")
	c = srv.client(t, "")
	keys := receipt.Keys{}
	vk, _ := os.ReadFile(filepath.Join(data, "keys", "log.vkey"))
	keys.LogKey = string(vk)
	keys.ServerKey, _ = sign.LoadPublicKey(filepath.Join(data, "keys", "server.pub"))
	for _, a := range acks {
		// Resubmitting an acknowledged certificate returns its receipt:
		// it is in the log and in the index.
		rc, err := c.Submit(ctx, a.env)
		if err != nil {
			t.Fatalf("acknowledged certificate %s lost: %v", a.rc.CertificateID, err)
		}
		if !reflect.DeepEqual(rc, a.rc) {
			t.Fatalf("certificate %s: receipt changed after the crash (entry %d -> %d)", a.rc.CertificateID, a.rc.LogIndex, rc.LogIndex)
		}
		if _, err := rc.Verify(a.env, keys); err != nil {
			t.Fatal(err)
		}
	}
	srv.stop(t)
	out := mustRun(t, "audit", "verify-log", "--data", data)
	t.Logf("%d certificates acknowledged before SIGKILL, all present after restart; %s", len(acks), strings.TrimSpace(out))
}

func itoa(i int) string { return strconv.Itoa(i) }
