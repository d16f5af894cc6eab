package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/audit/receipt"
)

// Uploader delivers certificates to the audit store: it registers the
// per-boot key with the enrollment token, then flushes the spool, again
// and again with back-off, until every certificate has a receipt. A store
// that is down only delays delivery; the spool keeps every certificate
// until the store's receipt for it is on disk, and each receipt is
// verified (the countersigned log entry contains exactly our certificate,
// and its inclusion proof matches the signed checkpoint).
type Uploader struct {
	c     *client.Client
	spool *client.Spool
	token string
	key   ed25519.PublicKey
	job   string
	retry client.Retry
	event func(format string, args ...any)
	keys  receipt.Keys

	kick chan struct{}
	mu   sync.Mutex
	st   UploadStatus
}

// UploadStatus is what the uploader has achieved so far.
type UploadStatus struct {
	// Enrolled is set once the store accepted the per-boot key.
	Enrolled bool
	// EnrollRefused is the store's refusal of the enrollment token
	// (unknown, expired, used): no certificate can be delivered.
	EnrollRefused string
	// States maps spool IDs to "pending", "sent" (receipt verified),
	// "unverified" (receipt does not verify) or "rejected".
	States map[string]string
	// Reasons holds the store's reason for each rejected certificate.
	Reasons map[string]string
	// LastError is the last transient failure; NextTry when the next
	// attempt is due (zero while idle).
	LastError string
	NextTry   time.Time
	Attempts  int
}

// Count returns how many certificates are in state s.
func (st UploadStatus) Count(s string) int {
	n := 0
	for _, v := range st.States {
		if v == s {
			n++
		}
	}
	return n
}

// NewUploader delivers the spool's certificates through c, enrolling key
// with token for job first. event receives lines for the console.
func NewUploader(c *client.Client, spool *client.Spool, token, job string, key ed25519.PublicKey, retry client.Retry, event func(string, ...any)) *Uploader {
	if retry.Initial <= 0 {
		retry.Initial = time.Second
	}
	if retry.Max < retry.Initial {
		retry.Max = 30 * time.Second
	}
	return &Uploader{c: c, spool: spool, token: token, job: job, key: key, retry: retry, event: event,
		kick: make(chan struct{}, 1), st: UploadStatus{States: map[string]string{}, Reasons: map[string]string{}}}
}

// PinServerKey makes receipts verify only against this countersigning
// key; by default a receipt is checked against the key it names, which
// proves it is consistent, and the TLS pin proves whom it came from.
func (u *Uploader) PinServerKey(pub ed25519.PublicKey) { u.keys.ServerKey = pub }

// Add spools a certificate (durably, before returning) and wakes the
// uploader. It returns the spool ID.
func (u *Uploader) Add(envelope []byte) (string, error) {
	it, err := u.spool.Add(envelope)
	if err != nil {
		return "", err
	}
	u.mu.Lock()
	if u.st.States[it.ID] == "" {
		u.st.States[it.ID] = "pending"
	}
	u.mu.Unlock()
	select {
	case u.kick <- struct{}{}:
	default:
	}
	return it.ID, nil
}

// Status returns a snapshot.
func (u *Uploader) Status() UploadStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := u.st
	st.States = make(map[string]string, len(u.st.States))
	for k, v := range u.st.States {
		st.States[k] = v
	}
	st.Reasons = make(map[string]string, len(u.st.Reasons))
	for k, v := range u.st.Reasons {
		st.Reasons[k] = v
	}
	return st
}

// Done reports whether every added certificate has a verified receipt.
func (u *Uploader) Done() bool {
	st := u.Status()
	return st.Enrolled && st.Count("pending") == 0 && st.Count("unverified") == 0 && st.Count("rejected") == 0
}

// Hopeless reports whether delivery cannot succeed whatever happens to
// the network: the enrollment was refused, or the store rejected a
// certificate.
func (u *Uploader) Hopeless() bool {
	st := u.Status()
	return st.EnrollRefused != "" || (st.Count("pending") == 0 && (st.Count("rejected") > 0 || st.Count("unverified") > 0))
}

// Run enrolls and flushes until ctx ends, starting once ready is closed
// (the network is up).
func (u *Uploader) Run(ctx context.Context, ready <-chan struct{}) {
	select {
	case <-ready:
	case <-ctx.Done():
		return
	}
	wait := u.retry.Initial
	for {
		progress := u.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		st := u.Status()
		idle := st.Enrolled && st.Count("pending") == 0 || st.EnrollRefused != ""
		if progress {
			wait = u.retry.Initial
		}
		var timer <-chan time.Time
		if !idle {
			u.mu.Lock()
			u.st.NextTry = time.Now().Add(wait)
			u.mu.Unlock()
			timer = time.After(wait)
			wait = min(2*wait, u.retry.Max)
		} else {
			u.mu.Lock()
			u.st.NextTry = time.Time{}
			u.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-u.kick:
		case <-timer:
		}
	}
}

// pass is one attempt: enroll if needed, then flush. It reports whether
// anything was achieved.
func (u *Uploader) pass(ctx context.Context) bool {
	u.mu.Lock()
	u.st.Attempts++
	enrolled, refused := u.st.Enrolled, u.st.EnrollRefused != ""
	u.mu.Unlock()
	if refused {
		return false
	}
	progress := false
	if !enrolled {
		if err := u.enroll(ctx); err != nil {
			u.setError(err)
			return false
		}
		if !u.Status().Enrolled {
			// Refused: submitting would only get every certificate
			// rejected as signed by an unknown key. They stay pending.
			return true
		}
		progress = true
	}
	res, err := u.spool.Flush(ctx)
	if err != nil {
		u.setError(fmt.Errorf("spool: %w", err))
		return progress
	}
	for _, it := range res.Sent {
		state := "sent"
		if err := u.verifyReceipt(it.ID); err != nil {
			state = "unverified"
			u.event("!! the audit store's receipt for certificate %.12s does not verify: %v", it.ID, err)
		}
		u.mu.Lock()
		u.st.States[it.ID] = state
		u.mu.Unlock()
		progress = true
	}
	for _, r := range res.Rejected {
		u.mu.Lock()
		u.st.States[r.ID] = "rejected"
		u.st.Reasons[r.ID] = r.Err.Error()
		u.mu.Unlock()
		u.event("!! the audit store REJECTED certificate %.12s: %v", r.ID, r.Err)
		progress = true
	}
	if len(res.Sent) > 0 {
		u.event("audit store: %d certificate(s) received, receipts verified", len(res.Sent))
	}
	if res.LastError != nil {
		u.setError(res.LastError)
	} else {
		u.setError(nil)
	}
	return progress
}

func (u *Uploader) enroll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	e, err := u.c.Enroll(ctx, u.token, u.key)
	var ce *client.Error
	switch {
	case err == nil:
		u.event("audit store: per-boot key registered for job %s (until %s)", e.Job, e.Expires.UTC().Format(time.RFC3339))
		if u.job != "" && e.Job != u.job {
			u.event("!! the enrollment token is for job %q, certificates say job %q: the store will reject them", e.Job, u.job)
		}
	case errors.As(err, &ce) && ce.Kind == "key-registered":
	case client.IsPermanent(err):
		u.mu.Lock()
		u.st.EnrollRefused = err.Error()
		u.mu.Unlock()
		u.event("!! the audit store REFUSED the enrollment token: %v; certificates cannot be delivered", err)
		return nil
	default:
		return err
	}
	u.mu.Lock()
	u.st.Enrolled = true
	u.mu.Unlock()
	return nil
}

func (u *Uploader) verifyReceipt(id string) error {
	rc, err := u.spool.Receipt(id)
	if err != nil {
		return err
	}
	env, err := os.ReadFile(filepath.Join(u.spool.Dir(), "sent", id+".json"))
	if err != nil {
		return err
	}
	_, err = rc.Verify(env, u.keys)
	return err
}

// setError records the last transient failure and reports it when it
// changes (not on every retry).
func (u *Uploader) setError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	u.mu.Lock()
	changed := msg != u.st.LastError
	u.st.LastError = msg
	u.mu.Unlock()
	if changed && msg != "" {
		u.event("audit store not reached: %s; retrying", msg)
	}
}
