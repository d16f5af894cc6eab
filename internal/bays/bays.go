// Package bays runs a wiping station: drives are hot-plugged into bays or
// USB docks, each newly inserted drive is identified, checked and wiped by
// the configured policy, its certificate written and delivered, and the
// technician sees one row per slot (waiting, identifying, wiping with
// progress, ERASED/FAILED and "remove drive"). A drive that was present
// when the station started is never touched unless asked; a drive pulled
// during its wipe ends ABORTED and the slot is free again.
//
// The package decides what happens in which slot; identifying, wiping and
// certifying a drive is the Wiper's job (the same pipeline as lethe wipe).
package bays

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lethe-project/lethe/internal/hotplug"
	"github.com/lethe-project/lethe/internal/humanize"
	"github.com/lethe-project/lethe/internal/wipe"
)

// Phase is where a slot is.
type Phase string

const (
	Waiting     Phase = "waiting"     // empty: insert a drive
	Identifying Phase = "identifying" // a drive arrived; reading who it is and whether it may be wiped
	Wiping      Phase = "wiping"
	Done        Phase = "done" // Result says how it ended: remove the drive
	Kept        Phase = "kept" // a drive the station will not touch (Note says why)
)

// ErrRemoved is the cause of a wipe's cancelled context when its drive
// was pulled out of the slot.
var ErrRemoved = errors.New("the drive was removed from its slot during the wipe")

// Slot is one bay, port or dock as the technician sees it.
type Slot struct {
	Key, Label string
	Phase      Phase
	Medium     hotplug.Medium
	Serial     string
	Model      string
	Technique  string
	Progress   wipe.Progress
	Started    time.Time
	Ended      time.Time
	// Result is ERASED, FAILED, ABORTED or PARTIAL once a wipe ended.
	Result string
	// Note says why a drive is kept, or explains a result.
	Note string
	// Cert is the certificate's path; Delivery its state at the audit
	// store ("" without one, "sent", "spooled: ...", "REFUSED: ...").
	Cert, Delivery string
	// Last summarizes the previous drive of this slot once it was removed.
	Last string
	// Changed is when anything in the slot last changed.
	Changed time.Time
}

// Decision is the Wiper's verdict on an inserted drive.
type Decision struct {
	Wipe      bool
	Reason    string // why not (a guard, an exclusion, the system disk)
	Serial    string
	Model     string
	Technique string // what the plan would use
}

// Outcome is how a wipe ended.
type Outcome struct {
	Status   string // ERASED, FAILED, ABORTED, PARTIAL
	Note     string
	Cert     string
	Delivery string
}

// Wiper identifies and wipes drives.
type Wiper interface {
	// Identify describes the drive and decides whether it may be wiped.
	// It writes nothing.
	Identify(ctx context.Context, m hotplug.Medium) Decision
	// Wipe erases, verifies, certifies and delivers. ctx is cancelled with
	// cause ErrRemoved when the drive is pulled; the certificate then says
	// ABORTED.
	Wipe(ctx context.Context, m hotplug.Medium, progress func(wipe.Progress)) Outcome
}

// Options configure a Station.
type Options struct {
	// WipePresent wipes drives that were present when the station started
	// (default: they are kept, whatever they are).
	WipePresent bool
	// Settle is how long an inserted drive is left alone before it is
	// identified (the kernel reads its partition table, a USB bridge
	// settles); default 1 s.
	Settle time.Duration
	// Count stops the station once that many drives were wiped (whatever
	// the result) and removed; 0 runs until the context ends.
	Count int
	// OnChange is called (without locks held) after any slot changed.
	OnChange func()
	// Log receives one line per event for the log file and the screen's
	// event area.
	Log func(format string, args ...any)
}

// Station is the running wiping station.
type Station struct {
	w    Wiper
	o    Options
	mu   sync.Mutex
	keys []string
	slot map[string]*Slot
	// cancel stops the wipe running in a slot.
	cancel   map[string]context.CancelCauseFunc
	finished int
}

// New returns a station that wipes with w.
func New(w Wiper, o Options) *Station {
	if o.Settle == 0 {
		o.Settle = time.Second
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return &Station{w: w, o: o, slot: map[string]*Slot{}, cancel: map[string]context.CancelCauseFunc{}}
}

// Slots returns a copy of every slot, in natural order of their labels.
func (s *Station) Slots() []Slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Slot, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, *s.slot[k])
	}
	slices.SortStableFunc(out, func(a, b Slot) int { return humanize.NaturalCompare(a.Label, b.Label) })
	return out
}

// Finished is how many drives were wiped and removed.
func (s *Station) Finished() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished
}

func (s *Station) get(m hotplug.Medium) *Slot {
	key := m.Slot
	if key == "" {
		key = m.Name
	}
	sl := s.slot[key]
	if sl == nil {
		sl = &Slot{Key: key, Label: m.Label, Phase: Waiting}
		if sl.Label == "" {
			sl.Label = m.Name
		}
		s.slot[key] = sl
		s.keys = append(s.keys, key)
	}
	return sl
}

func (s *Station) changed() {
	if s.o.OnChange != nil {
		s.o.OnChange()
	}
}

// done is a wipe that ended.
type done struct {
	key string
	m   hotplug.Medium
	out Outcome
}

// identified is an identification that ended.
type identified struct {
	key string
	m   hotplug.Medium
	d   Decision
}

// Run follows w's events until ctx ends or Options.Count drives were
// wiped and removed. Wipes still running when ctx ends are stopped (their
// certificates say ABORTED) and waited for.
func (s *Station) Run(ctx context.Context, w *hotplug.Watcher) error {
	ctx, stop := context.WithCancel(ctx)
	events := make(chan hotplug.Event, 64)
	watchErr := make(chan error, 1)
	go func() { watchErr <- w.Run(ctx, events) }()
	doneCh := make(chan done)
	idCh := make(chan identified)
	var wg sync.WaitGroup
	// On the way out: stop every wipe (its certificate says ABORTED) and
	// record how each ended.
	defer func() {
		stop()
		all := make(chan struct{})
		go func() { wg.Wait(); close(all) }()
		for {
			select {
			case d := <-doneCh:
				s.finish(d)
			case <-idCh:
			case <-all:
				return
			}
		}
	}()

	s.mu.Lock()
	for _, m := range w.Present() {
		sl := s.get(m)
		sl.Medium, sl.Changed = m, time.Now()
		if s.o.WipePresent {
			sl.Phase = Identifying
		} else {
			sl.Phase, sl.Note = Kept, "present when the station started"
		}
	}
	var start []hotplug.Medium
	if s.o.WipePresent {
		start = w.Present()
	}
	s.mu.Unlock()
	s.changed()
	identify := func(m hotplug.Medium, key string) {
		wg.Go(func() {
			select {
			case <-time.After(s.o.Settle):
			case <-ctx.Done():
				return
			}
			d := s.w.Identify(ctx, m)
			select {
			case idCh <- identified{key, m, d}:
			case <-ctx.Done():
			}
		})
	}
	for _, m := range start {
		identify(m, s.get(m).Key)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-watchErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("hot-plug watcher: %w", err)
		case ev := <-events:
			s.mu.Lock()
			sl := s.get(ev.Medium)
			switch ev.Kind {
			case hotplug.Inserted:
				if c := s.cancel[sl.Key]; c != nil {
					// A new medium while the old one is still being wiped
					// (a removal we did not see): stop the old wipe.
					c(ErrRemoved)
				}
				*sl = Slot{Key: sl.Key, Label: sl.Label, Last: sl.Last, Phase: Identifying, Medium: ev.Medium, Changed: time.Now()}
				s.o.Log("%s: %s inserted (%s)", sl.Label, ev.Medium.Name, humanSize(ev.Medium.SizeBytes))
				identify(ev.Medium, sl.Key)
			case hotplug.Removed:
				if sl.Medium.DiskSeq != ev.Medium.DiskSeq || sl.Medium.Name != ev.Medium.Name {
					s.mu.Unlock()
					continue
				}
				if c := s.cancel[sl.Key]; c != nil {
					s.o.Log("%s: %s removed during the wipe: stopping it; its certificate will say ABORTED", sl.Label, ev.Medium.Name)
					c(ErrRemoved)
					sl.Note = ErrRemoved.Error()
					sl.Changed = time.Now()
					s.mu.Unlock()
					s.changed()
					continue // the wipe's end frees the slot
				}
				s.o.Log("%s: %s removed", sl.Label, ev.Medium.Name)
				if sl.Phase == Done {
					s.finished++
				}
				s.free(sl)
			}
			s.mu.Unlock()
			s.changed()
			if s.o.Count > 0 && s.Finished() >= s.o.Count {
				return nil
			}
		case id := <-idCh:
			s.mu.Lock()
			sl := s.slot[id.key]
			if sl == nil || sl.Phase != Identifying || sl.Medium.DiskSeq != id.m.DiskSeq || sl.Medium.Name != id.m.Name {
				s.mu.Unlock()
				continue // removed or replaced meanwhile
			}
			sl.Serial, sl.Model, sl.Technique, sl.Changed = id.d.Serial, id.d.Model, id.d.Technique, time.Now()
			if !id.d.Wipe {
				sl.Phase, sl.Note = Kept, id.d.Reason
				s.o.Log("%s: %s (%s) not wiped: %s", sl.Label, id.m.Name, dash(id.d.Serial), id.d.Reason)
				s.mu.Unlock()
				s.changed()
				continue
			}
			sl.Phase, sl.Started = Wiping, time.Now()
			wctx, cancel := context.WithCancelCause(ctx)
			s.cancel[sl.Key] = cancel
			s.o.Log("%s: wiping %s (%s, %s) with %s", sl.Label, id.m.Name, dash(id.d.Serial), dash(id.d.Model), id.d.Technique)
			key, m := sl.Key, id.m
			s.mu.Unlock()
			s.changed()
			wg.Go(func() {
				out := s.w.Wipe(wctx, m, func(p wipe.Progress) {
					s.mu.Lock()
					if sl := s.slot[key]; sl != nil && sl.Medium.DiskSeq == m.DiskSeq {
						sl.Progress = p
					}
					s.mu.Unlock()
					s.changed()
				})
				cancel(nil)
				doneCh <- done{key, m, out} // read by Run, or by its deferred drain
			})
		case d := <-doneCh:
			s.finish(d)
			if s.o.Count > 0 && s.Finished() >= s.o.Count {
				return nil
			}
		}
	}
}

// finish records a wipe's end.
func (s *Station) finish(d done) {
	s.mu.Lock()
	delete(s.cancel, d.key)
	sl := s.slot[d.key]
	sl.Result, sl.Cert, sl.Delivery, sl.Ended, sl.Changed = d.out.Status, d.out.Cert, d.out.Delivery, time.Now(), time.Now()
	if d.out.Note != "" {
		sl.Note = d.out.Note
	}
	msg := fmt.Sprintf("%s: %s (%s) %s", sl.Label, d.m.Name, dash(sl.Serial), d.out.Status)
	if sl.Note != "" {
		msg += ": " + sl.Note
	}
	if d.out.Cert != "" {
		msg += "; certificate " + d.out.Cert
	}
	if d.out.Delivery != "" {
		msg += " (" + d.out.Delivery + ")"
	}
	s.o.Log("%s", msg)
	if sl.Note == ErrRemoved.Error() || !present(d.m) {
		// Pulled: nothing to remove any more; the slot is free.
		s.finished++
		s.free(sl)
	} else {
		sl.Phase = Done
	}
	s.mu.Unlock()
	s.changed()
}

// free empties a slot, keeping a line about the drive that left it.
// Call with mu held.
func (s *Station) free(sl *Slot) {
	last := ""
	switch {
	case sl.Result != "":
		last = fmt.Sprintf("%s %s %s", sl.Medium.Name, dash(sl.Serial), sl.Result)
		if sl.Cert != "" {
			last += " (certificate written)"
		}
	case sl.Phase == Kept:
		last = fmt.Sprintf("%s %s kept", sl.Medium.Name, dash(sl.Serial))
	}
	*sl = Slot{Key: sl.Key, Label: sl.Label, Phase: Waiting, Last: last, Changed: time.Now()}
}

// present reports whether m is still in its slot (same disk sequence).
func present(m hotplug.Medium) bool {
	cur, ok := hotplug.Read("/sys/block", m.Name)
	return ok && cur.DiskSeq == m.DiskSeq
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanSize(n int64) string { return humanize.Bytes(n) }
