package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	tclient "github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/store"
)

// scanEntries visits the log entries [from, to) as the store serves them.
func scanEntries(ctx context.Context, e *env, from, to uint64, visit func([]byte)) error {
	for i := from; i < to; {
		b, err := tclient.GetEntryBundle(ctx, e.st.Fetcher().ReadEntryBundle, i/256, to)
		if err != nil {
			return err
		}
		for j := i % 256; j < uint64(len(b.Entries)) && i < to; j++ {
			visit(b.Entries[j])
			i++
		}
	}
	return nil
}

// summaryAt reads the security summary at entry i.
func summaryAt(ctx context.Context, e *env, i uint64) (*entry.Summary, error) {
	var leaf []byte
	if err := scanEntries(ctx, e, i, i+1, func(b []byte) { leaf = b }); err != nil {
		return nil, err
	}
	en, err := entry.Open(leaf, e.st.ServerKey())
	if err != nil {
		return nil, err
	}
	if en.Summary == nil {
		return nil, fmt.Errorf("entry %d is no summary: %+v", i, en)
	}
	return en.Summary, nil
}

// logGrowth is how many entries and bytes the log gained since from.
func logGrowth(t *testing.T, e *env, from uint64) (n, size uint64) {
	t.Helper()
	ctx := context.Background()
	cp, err := e.st.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var bytes uint64
	err = scanEntries(ctx, e, from, cp.Size, func(b []byte) { bytes += uint64(len(b)) })
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size - from, bytes
}

// testUnauthenticatedBounded: strangers cannot grow the permanent log
// without limit or make the store fail: fields are bounded, failures are
// logged once per subject and source and otherwise counted in one summary
// entry, and requests are rate-limited per source and per account (issue
// 12.6: 20 failed logins with 20 kB names wrote 8 MB, a 60 kB name gave a
// 500 with internal text, 200 bogus enrollments wrote 200 entries).
func testUnauthenticatedBounded(t *testing.T, e *env, _ backend) {
	ctx := context.Background()
	const singles = 5
	if err := e.st.FlushSecurity(ctx); err != nil { // a fresh window
		t.Fatal(err)
	}
	e.st.SetSecurity(store.SecurityConfig{Window: time.Hour, MaxSingles: singles,
		LoginPerSource: store.Rate{Burst: -1}, LoginPerAccount: store.Rate{Burst: -1}, EnrollPerSource: store.Rate{Burst: -1}})
	defer e.st.SetSecurity(testSecurity)
	cp0, err := e.st.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// 20 logins with 20 kB names, one with 60 kB, 200 bogus enrollments.
	long := strings.Repeat("x", 20<<10)
	errs := parallel(20, func(i int) error {
		_, err := e.anon.Login(ctx, long+itoa(uint64(i)), "whatever", "")
		return err
	})
	for _, err := range errs {
		wantReject(t, err, http.StatusUnauthorized, api.KindBadCredentials)
	}
	_, err = e.anon.Login(ctx, strings.Repeat("y", 60<<10), "whatever", "")
	ce := wantReject(t, err, http.StatusUnauthorized, api.KindBadCredentials)
	if strings.Contains(ce.Message, "internal") {
		t.Fatalf("a long name shows internal text: %q", ce.Message)
	}
	_, err = e.anon.Login(ctx, strings.Repeat("z", 100<<10), "whatever", "")
	wantReject(t, err, http.StatusRequestEntityTooLarge, api.KindTooLarge)
	pub, _ := newKey(t)
	errs = parallel(200, func(i int) error {
		k, _ := newKey(t)
		if i%2 == 0 {
			k = pub
		}
		_, err := e.anon.Enroll(ctx, "lenr_bogus"+itoa(uint64(i)), k)
		return err
	})
	for _, err := range errs {
		wantReject(t, err, http.StatusUnauthorized, api.KindTokenUnknown)
	}
	if err := e.st.FlushSecurity(ctx); err != nil {
		t.Fatal(err)
	}
	n, size := logGrowth(t, e, cp0.Size)
	if n > singles+1 || size > (singles+1)*(entry.MaxDetail+4*entry.MaxObject+8<<10) {
		t.Fatalf("221 refused requests grew the log by %d entries, %d bytes", n, size)
	}
	// The record is kept: the summary counts what was not logged alone.
	ev, err := e.st.Events(ctx, entry.TypeSecuritySummary, 10)
	if err != nil || len(ev) == 0 {
		t.Fatalf("no security summary: %v", err)
	}
	if !strings.Contains(ev[0].Detail, "refused attempt") {
		t.Fatalf("summary: %+v", ev[0])
	}
	sum, err := summaryAt(ctx, e, ev[0].LogIndex)
	if err != nil {
		t.Fatal(err)
	}
	total := sum.Omitted
	for _, c := range sum.Counts {
		total += c.Count
	}
	if len(sum.Counts) > entry.MaxSummaryRows {
		t.Fatalf("summary of %d rows", len(sum.Counts))
	}
	if total != 221-int(n-1) {
		t.Fatalf("the summary counts %d refusals, want %d", total, 221-int(n-1))
	}

	// Rate limits per source and per account.
	e.st.SetSecurity(store.SecurityConfig{Window: time.Hour, MaxSingles: singles,
		LoginPerSource: store.Rate{Burst: 4, Every: time.Hour}, LoginPerAccount: store.Rate{Burst: 2, Every: time.Hour}, EnrollPerSource: store.Rate{Burst: 3, Every: time.Hour}})
	limited := 0
	for i := range 6 {
		_, err := e.anon.Login(ctx, "rate-"+itoa(uint64(i%2)), "whatever", "")
		if client.Kind(err) == api.KindRateLimited {
			limited++
		}
	}
	if limited != 2 {
		t.Fatalf("%d of 6 logins from one source were rate-limited, want 2", limited)
	}
	e.st.SetSecurity(store.SecurityConfig{Window: time.Hour, MaxSingles: singles,
		LoginPerSource: store.Rate{Burst: -1}, LoginPerAccount: store.Rate{Burst: 2, Every: time.Hour}, EnrollPerSource: store.Rate{Burst: 3, Every: time.Hour}})
	for range 2 {
		_, err := e.anon.Login(ctx, "rate-account", "whatever", "")
		wantReject(t, err, http.StatusUnauthorized, api.KindBadCredentials)
	}
	_, err = e.anon.Login(ctx, "rate-account", "whatever", "")
	wantReject(t, err, http.StatusTooManyRequests, api.KindRateLimited)
	for i := range 4 {
		_, err := e.anon.Enroll(ctx, "lenr_rate", pub)
		if i < 3 {
			wantReject(t, err, http.StatusUnauthorized, api.KindTokenUnknown)
		} else {
			wantReject(t, err, http.StatusTooManyRequests, api.KindRateLimited)
		}
	}
}
