package station

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

// Delivery is where one certificate stands with the audit store.
type Delivery int

// Delivery states.
const (
	// Pending: spooled, not yet received by the store.
	Pending Delivery = iota
	// Delivered: the store logged it and its receipt verified (the
	// countersigned entry holds exactly this certificate and its
	// inclusion proof matches the signed checkpoint).
	Delivered
	// Unverified: the store answered with a receipt that does not verify.
	Unverified
	// Rejected: the store refused the certificate; retrying cannot help.
	Rejected
)

func (d Delivery) String() string {
	switch d {
	case Pending:
		return "pending"
	case Delivered:
		return "delivered"
	case Unverified:
		return "unverified"
	case Rejected:
		return "rejected"
	}
	return fmt.Sprintf("delivery(%d)", int(d))
}

// Deliverer delivers certificates to the audit store: it registers a key
// with an enrollment token where one is given, then flushes the spool,
// again and again with back-off, until every certificate has a verified
// receipt. A store that is down only delays delivery: the spool keeps
// every certificate on disk until the store's receipt for it is there.
type Deliverer struct {
	c     *client.Client
	spool *client.Spool
	enr   Enrollment
	retry client.Retry
	event func(format string, args ...any)
	keys  receipt.Keys

	kick    chan struct{}
	mu      sync.Mutex
	st      DeliveryStatus
	changed chan struct{} // closed and replaced on every state change
}

// Enrollment registers the key that signs a run's certificates with the
// store (lenr_ tokens). The zero value means the key is already trusted.
type Enrollment struct {
	Token string
	Key   ed25519.PublicKey
	// Job is the job the certificates name: a token for another job makes
	// the store reject them, which the deliverer says at once.
	Job string
}

// DeliveryStatus is what the deliverer has achieved so far.
type DeliveryStatus struct {
	// Enrolled is set once the store accepted the key (or when there is
	// nothing to enroll).
	Enrolled bool
	// EnrollRefused is the store's refusal of the enrollment token
	// (unknown, expired, used): no certificate can be delivered.
	EnrollRefused string
	// States maps spool IDs to their delivery state; Reasons holds the
	// store's reason for each rejected certificate.
	States  map[string]Delivery
	Reasons map[string]string
	// LastError is the last transient failure; NextTry when the next
	// attempt is due (zero while idle).
	LastError string
	NextTry   time.Time
	Attempts  int
}

// Count returns how many certificates are in state s.
func (st DeliveryStatus) Count(s Delivery) int {
	n := 0
	for _, v := range st.States {
		if v == s {
			n++
		}
	}
	return n
}

// Done reports whether every added certificate is Delivered.
func (st DeliveryStatus) Done() bool {
	return st.Enrolled && len(st.States) == st.Count(Delivered)
}

// Hopeless reports whether delivery cannot complete whatever happens to
// the network: the enrollment was refused, or the store rejected a
// certificate or answered with a receipt that does not verify.
func (st DeliveryStatus) Hopeless() bool {
	return st.EnrollRefused != "" || (st.Count(Pending) == 0 && (st.Count(Rejected) > 0 || st.Count(Unverified) > 0))
}

// NewDeliverer delivers the spool's certificates through c, enrolling
// first where enr names a token. event receives lines for people (the
// console, the log).
func NewDeliverer(c *client.Client, spool *client.Spool, enr Enrollment, retry client.Retry, event func(string, ...any)) *Deliverer {
	if retry.Initial <= 0 {
		retry.Initial = time.Second
	}
	if retry.Max < retry.Initial {
		retry.Max = 30 * time.Second
	}
	if event == nil {
		event = func(string, ...any) {}
	}
	d := &Deliverer{c: c, spool: spool, enr: enr, retry: retry, event: event,
		kick: make(chan struct{}, 1), changed: make(chan struct{}),
		st: DeliveryStatus{States: map[string]Delivery{}, Reasons: map[string]string{}, Enrolled: enr.Token == ""}}
	return d
}

// PinServerKey makes receipts verify only against this countersigning
// key; by default a receipt is checked against the key it names, which
// proves it is consistent, and the TLS pin proves whom it came from.
func (d *Deliverer) PinServerKey(pub ed25519.PublicKey) { d.keys.ServerKey = pub }

// Add spools a certificate (durably, before returning) and wakes the
// deliverer. It returns the spool ID.
func (d *Deliverer) Add(envelope []byte) (string, error) {
	it, err := d.spool.Add(envelope)
	if err != nil {
		return "", err
	}
	d.update(func(st *DeliveryStatus) {
		if _, ok := st.States[it.ID]; !ok {
			st.States[it.ID] = Pending
		}
	})
	select {
	case d.kick <- struct{}{}:
	default:
	}
	return it.ID, nil
}

// Status returns a snapshot.
func (d *Deliverer) Status() DeliveryStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	st.States = make(map[string]Delivery, len(d.st.States))
	for k, v := range d.st.States {
		st.States[k] = v
	}
	st.Reasons = make(map[string]string, len(d.st.Reasons))
	for k, v := range d.st.Reasons {
		st.Reasons[k] = v
	}
	return st
}

// State is one certificate's delivery state.
func (d *Deliverer) State(id string) Delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.States[id]
}

// Changed returns a channel that is closed at the next state change.
func (d *Deliverer) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

func (d *Deliverer) update(f func(*DeliveryStatus)) {
	d.mu.Lock()
	f(&d.st)
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

// Wait returns once every certificate is delivered, delivery is hopeless,
// or ctx ends, with the status then.
func (d *Deliverer) Wait(ctx context.Context) DeliveryStatus {
	for {
		ch := d.Changed()
		st := d.Status()
		if st.Done() || st.Hopeless() {
			return st
		}
		select {
		case <-ctx.Done():
			return d.Status()
		case <-ch:
		}
	}
}

// Run enrolls and flushes until ctx ends, starting once ready is closed
// (the network is up).
func (d *Deliverer) Run(ctx context.Context, ready <-chan struct{}) {
	select {
	case <-ready:
	case <-ctx.Done():
		return
	}
	wait := d.retry.Initial
	for {
		progress := d.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		st := d.Status()
		idle := st.Enrolled && st.Count(Pending) == 0 || st.EnrollRefused != ""
		if progress {
			wait = d.retry.Initial
		}
		var timer <-chan time.Time
		if !idle {
			next := time.Now().Add(wait)
			d.update(func(st *DeliveryStatus) { st.NextTry = next })
			timer = time.After(wait)
			wait = min(2*wait, d.retry.Max)
		} else {
			d.update(func(st *DeliveryStatus) { st.NextTry = time.Time{} })
		}
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-timer:
		}
	}
}

// pass is one attempt: enroll if needed, then flush. It reports whether
// anything was achieved.
func (d *Deliverer) pass(ctx context.Context) bool {
	d.mu.Lock()
	d.st.Attempts++
	enrolled, refused := d.st.Enrolled, d.st.EnrollRefused != ""
	d.mu.Unlock()
	if refused {
		return false
	}
	progress := false
	if !enrolled {
		if err := d.enroll(ctx); err != nil {
			d.setError(err)
			return false
		}
		if !d.Status().Enrolled {
			// Refused: submitting would only get every certificate
			// rejected as signed by an unknown key. They stay pending.
			return true
		}
		progress = true
	}
	res, err := d.spool.Flush(ctx)
	if err != nil {
		d.setError(fmt.Errorf("spool: %w", err))
		return progress
	}
	for _, it := range res.Sent {
		state := Delivered
		if err := d.verifyReceipt(it.ID); err != nil {
			state = Unverified
			d.event("!! the audit store's receipt for certificate %.12s does not verify: %v", it.ID, err)
		}
		d.update(func(st *DeliveryStatus) { st.States[it.ID] = state })
		progress = true
	}
	for _, r := range res.Rejected {
		d.update(func(st *DeliveryStatus) {
			st.States[r.ID] = Rejected
			st.Reasons[r.ID] = r.Err.Error()
		})
		d.event("!! the audit store REJECTED certificate %.12s: %v", r.ID, r.Err)
		progress = true
	}
	if len(res.Sent) > 0 {
		d.event("audit store: %d certificate(s) received, receipts verified", len(res.Sent))
	}
	d.setError(res.LastError)
	return progress
}

func (d *Deliverer) enroll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	e, err := d.c.Enroll(ctx, d.enr.Token, d.enr.Key)
	var ce *client.Error
	switch {
	case err == nil:
		d.event("audit store: signing key %.16s registered for job %s (until %s)", e.KeyID, e.Job, e.Expires.UTC().Format(time.RFC3339))
		if d.enr.Job != "" && e.Job != d.enr.Job {
			d.event("!! the enrollment token is for job %q, certificates say job %q: the store will reject them", e.Job, d.enr.Job)
		}
	case errors.As(err, &ce) && ce.Kind == "key-registered":
	case client.IsPermanent(err):
		d.update(func(st *DeliveryStatus) { st.EnrollRefused = err.Error() })
		d.event("!! the audit store REFUSED the enrollment token: %v; certificates cannot be delivered", err)
		return nil
	default:
		return err
	}
	d.update(func(st *DeliveryStatus) { st.Enrolled = true })
	return nil
}

func (d *Deliverer) verifyReceipt(id string) error {
	rc, err := d.spool.Receipt(id)
	if err != nil {
		return err
	}
	env, err := os.ReadFile(filepath.Join(d.spool.Dir(), "sent", id+".json"))
	if err != nil {
		return err
	}
	_, err = rc.Verify(env, d.keys)
	return err
}

// setError records the last transient failure and reports it when it
// changes (not on every retry).
func (d *Deliverer) setError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	d.mu.Lock()
	changed := msg != d.st.LastError
	d.mu.Unlock()
	if !changed {
		return
	}
	d.update(func(st *DeliveryStatus) { st.LastError = msg })
	if msg != "" {
		d.event("audit store not reached: %s; retrying", msg)
	}
}
