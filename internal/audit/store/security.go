package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/lethe-project/lethe/internal/audit/entry"
)

// SecurityConfig bounds what strangers can make the store do.
//
// Failed logins and failed enrollments come from people the store does not
// know, so they must not decide how much is written to the permanent log.
// Within each Window, the first occurrence of each (type, subject, source)
// is logged as its own entry, up to MaxSingles entries; everything else is
// counted and written as one security.summary entry at the end of the
// window (at most entry.MaxSummaryRows rows). Whatever the attacker sends,
// the log grows by at most MaxSingles+1 bounded entries per window, and the
// record still says who tried what from where, and how often. Counts of
// the current window are kept in memory and written when the store closes;
// a crash loses at most one window of counts, never the first occurrence.
//
// Requests are also rate-limited (token buckets) per source address and
// per account name; a refused request is counted, not logged. Limits are
// per process: behind a load balancer each server limits on its own.
type SecurityConfig struct {
	Window     time.Duration // default 1 minute
	MaxSingles int           // default 20
	// LoginPerSource and LoginPerAccount limit login attempts; EnrollPerSource
	// limits enrollments. A zero Rate takes the default; Burst < 0 means no
	// limit.
	LoginPerSource  Rate // default 20, then one per 3 s
	LoginPerAccount Rate // default 10, then one per 6 s
	EnrollPerSource Rate // default 30, then one per 2 s
}

// Rate is a token bucket: Burst requests at once, then one per Every.
type Rate struct {
	Burst int
	Every time.Duration
}

func (c *SecurityConfig) defaults() {
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.MaxSingles == 0 {
		c.MaxSingles = 20
	}
	def := func(r *Rate, burst int, every time.Duration) {
		if r.Burst == 0 {
			r.Burst, r.Every = burst, every
		}
		if r.Every <= 0 {
			r.Every = every
		}
	}
	def(&c.LoginPerSource, 20, 3*time.Second)
	def(&c.LoginPerAccount, 10, 6*time.Second)
	def(&c.EnrollPerSource, 30, 2*time.Second)
}

// ErrRateLimited refuses a request that came too fast; RetryAfter says
// when to try again.
type ErrRateLimited struct {
	What       string
	RetryAfter time.Duration
}

func (e *ErrRateLimited) Error() string {
	return fmt.Sprintf("too many %s; try again in %s", e.What, e.RetryAfter.Round(time.Second))
}

// IsRateLimited reports a rate-limit refusal.
func IsRateLimited(err error) bool {
	var e *ErrRateLimited
	return errors.As(err, &e)
}

// limiters are token buckets keyed by source or account, bounded in
// number: beyond maxBuckets the fullest (idle) buckets are dropped.
type limiters struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
	cfg     SecurityConfig
}

type bucket struct {
	tokens float64
	at     time.Time
}

const maxBuckets = 10000

func newLimiters(cfg SecurityConfig, now func() time.Time) *limiters {
	cfg.defaults()
	return &limiters{now: now, buckets: map[string]*bucket{}, cfg: cfg}
}

// take spends a token from the bucket key with rate r; it returns how
// long to wait when there is none.
func (l *limiters) take(key string, r Rate) (time.Duration, bool) {
	if r.Burst < 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: float64(r.Burst), at: now}
		l.buckets[key] = b
	}
	b.tokens = min(float64(r.Burst), b.tokens+now.Sub(b.at).Seconds()/r.Every.Seconds())
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) * float64(r.Every)), false
}

// prune drops buckets that have refilled (they carry no state), or, if
// none has, the oldest half.
func (l *limiters) prune(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.at) > 10*time.Minute {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < maxBuckets {
		return
	}
	type kv struct {
		k  string
		at time.Time
	}
	all := make([]kv, 0, len(l.buckets))
	for k, b := range l.buckets {
		all = append(all, kv{k, b.at})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	for _, e := range all[:len(all)/2] {
		delete(l.buckets, e.k)
	}
}

// SetSecurity replaces the rate limits and recording bounds (tests; the
// window applies from the next one).
func (s *Store) SetSecurity(c SecurityConfig) {
	c.defaults()
	s.limits.mu.Lock()
	s.limits.cfg = c
	s.limits.buckets = map[string]*bucket{}
	s.limits.mu.Unlock()
	s.sec.mu.Lock()
	s.sec.maxSingles = c.MaxSingles
	s.sec.mu.Unlock()
}

// limit applies the limits for a kind of request ("login", "enroll").
func (s *Store) limit(kind, remote, account string) error {
	s.limits.mu.Lock()
	cfg := s.limits.cfg
	s.limits.mu.Unlock()
	type check struct {
		key string
		r   Rate
	}
	var checks []check
	switch kind {
	case "login":
		checks = append(checks, check{"login-src:" + remote, cfg.LoginPerSource})
		if account != "" {
			checks = append(checks, check{"login-acct:" + entry.Truncate(account, entry.MaxSubject), cfg.LoginPerAccount})
		}
	case "enroll":
		checks = append(checks, check{"enroll-src:" + remote, cfg.EnrollPerSource})
	}
	for _, c := range checks {
		if wait, ok := s.limits.take(c.key, c.r); !ok {
			return &ErrRateLimited{What: kind + " attempts", RetryAfter: max(wait, time.Second)}
		}
	}
	return nil
}

// securityRecorder writes failed logins and enrollments to the log, each
// distinct (type, subject, source) once per window and the rest as one
// summary (see SecurityConfig).
type securityRecorder struct {
	s          *Store
	mu         sync.Mutex
	from       time.Time
	maxSingles int
	singles    int
	seen       map[secKey]bool
	counts     map[secKey]*entry.SummaryCount
}

type secKey struct{ typ, subject, remote, reason string }

// maxCountKeys bounds the counts kept in memory for one window; beyond it
// counts go to a row per type with subject "*".
const maxCountKeys = 1000

func newSecurityRecorder(s *Store) *securityRecorder {
	return &securityRecorder{s: s, from: s.now().UTC(), maxSingles: s.cfg.Security.MaxSingles, seen: map[secKey]bool{}, counts: map[secKey]*entry.SummaryCount{}}
}

// record logs an unauthenticated failure, or counts it.
func (r *securityRecorder) record(ctx context.Context, typ string, who Actor, object, result, reason string) error {
	return r.recordDetail(ctx, typ, who, object, result, reason, reason)
}

// recordDetail is record with a longer detail for the entry logged alone;
// reason (short) is what the counts group by.
func (r *securityRecorder) recordDetail(ctx context.Context, typ string, who Actor, object, result, reason, detail string) error {
	k := secKey{typ, entry.Truncate(who.Name, entry.MaxSubject), entry.Truncate(who.Remote, entry.MaxRemote), entry.Truncate(reason, 128)}
	r.mu.Lock()
	single := !r.seen[k] && r.singles < r.maxSingles && len(r.seen) < maxCountKeys
	if single {
		r.seen[k] = true
		r.singles++
	} else {
		r.count(k)
	}
	r.mu.Unlock()
	if !single {
		return nil
	}
	return r.s.event(ctx, typ, Actor{Name: k.subject, Remote: k.remote}, object, result, detail)
}

// count adds one to k's count (the caller holds mu).
func (r *securityRecorder) count(k secKey) {
	if _, ok := r.counts[k]; !ok && len(r.counts) >= maxCountKeys {
		k = secKey{typ: k.typ, subject: "*", remote: "*", reason: "(more sources than counted one by one)"}
	}
	c := r.counts[k]
	if c == nil {
		c = &entry.SummaryCount{Type: k.typ, Subject: k.subject, Remote: k.remote, Reason: k.reason}
		r.counts[k] = c
	}
	c.Count++
}

// countOnly counts without ever logging one by one (rate-limited
// requests).
func (r *securityRecorder) countOnly(typ string, who Actor, reason string) {
	k := secKey{typ, entry.Truncate(who.Name, entry.MaxSubject), entry.Truncate(who.Remote, entry.MaxRemote), reason}
	r.mu.Lock()
	r.count(k)
	r.mu.Unlock()
}

// flush ends the window: the counts, if any, become one summary entry.
func (r *securityRecorder) flush(ctx context.Context) error {
	r.mu.Lock()
	now := r.s.now().UTC()
	counts := r.counts
	from := r.from
	r.from, r.singles, r.seen, r.counts = now, 0, map[secKey]bool{}, map[secKey]*entry.SummaryCount{}
	r.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}
	rows := make([]entry.SummaryCount, 0, len(counts))
	total := 0
	for _, c := range counts {
		rows = append(rows, *c)
		total += c.Count
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Count != rows[j].Count {
			return rows[i].Count > rows[j].Count
		}
		return rows[i].Type+rows[i].Subject+rows[i].Remote < rows[j].Type+rows[j].Subject+rows[j].Remote
	})
	sum := &entry.Summary{From: from, To: now}
	if len(rows) > entry.MaxSummaryRows {
		for _, c := range rows[entry.MaxSummaryRows:] {
			sum.Omitted += c.Count
		}
		rows = rows[:entry.MaxSummaryRows]
	}
	sum.Counts = rows
	detail := fmt.Sprintf("%d refused attempt(s) from %s to %s not logged one by one", total, from.Format(time.RFC3339), now.Format(time.RFC3339))
	if r.s.readOnly {
		r.s.logger.Warn("audit security summary (mirror: not logged)", "detail", detail)
		return nil
	}
	_, err := r.s.Record(ctx, &entry.Entry{Type: entry.TypeSecuritySummary, Subject: "server", Object: "security", Result: entry.ResultFailure,
		Detail: detail, Summary: sum})
	return err
}

// FlushSecurity writes the current window's summary now (tests, shutdown).
func (s *Store) FlushSecurity(ctx context.Context) error { return s.sec.flush(ctx) }
