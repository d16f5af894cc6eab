package server

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/internal/certtest"
)

// TestLoadIngest ingests certificates over HTTPS on loopback from 64
// concurrent clients and reports throughput and latency percentiles. It
// is bounded: LETHE_LOAD_N certificates (default 2000; `make`-style full
// run: LETHE_LOAD_N=10000) and a 5-minute deadline. It asserts
// correctness (every certificate logged once), never timing.
func TestLoadIngest(t *testing.T) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("LETHE_LOAD_N")); err == nil && v > 0 {
		n = min(v, 50000)
	}
	if testing.Short() {
		n = 300
	}
	const workers = 64
	e := newEnv(t, backends["posix-sqlite"](t).config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pub, key := newKey(t)
	if _, err := e.admin.AddStationKey(ctx, "load", pub); err != nil {
		t.Fatal(err)
	}
	envs := make([][]byte, n)
	for i := range envs {
		envs[i] = certtest.MustSign(key, certtest.Drive{Serial: fmt.Sprintf("LOAD-%06d", i), WWN: fmt.Sprintf("naa.5%015d", i), HostSerial: fmt.Sprintf("H-%d", i%50), Job: "LOAD"})
	}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failures atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				_, err := e.anon.Submit(ctx, envs[i])
				lat[i] = time.Since(t0)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d of %d submissions failed, first: %v", f, n, firstErr.Load())
	}
	var res api.SearchResult
	if err := e.admin.Do(ctx, "GET", "/v1/certificates?job=LOAD&limit=1", nil, &res); err != nil || res.Total != n {
		t.Fatalf("index holds %d of %d: %v", res.Total, n, err)
	}
	cp, err := e.st.Checkpoint(ctx)
	if err != nil || cp.Size < uint64(n) {
		t.Fatalf("log size %v < %d: %v", cp, n, err)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	msg := fmt.Sprintf("load: %d certificates, %d clients, HTTPS loopback, POSIX log + SQLite: %.0f certificates/s, latency p50 %v p90 %v p99 %v max %v (total %v)",
		n, workers, float64(n)/elapsed.Seconds(), pct(0.50).Round(time.Millisecond), pct(0.90).Round(time.Millisecond),
		pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), elapsed.Round(time.Millisecond))
	t.Log(msg)
	fmt.Println(msg)
}
