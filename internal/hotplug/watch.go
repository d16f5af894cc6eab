package hotplug

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is what happened to a medium.
type Kind string

const (
	Inserted Kind = "inserted"
	Removed  Kind = "removed"
)

// Medium is one whole disk with a medium in it.
type Medium struct {
	Name string // kernel name: sdb, nvme0n1, loop3
	Path string // /dev/NAME
	// DiskSeq is the kernel's disk sequence number: a new value means a
	// new medium behind the same name (0 on kernels before 5.15).
	DiskSeq   uint64
	Major     uint32
	Minor     uint32
	SizeBytes int64
	// SysPath is the resolved sysfs directory (/sys/devices/...): where
	// the disk hangs off the machine.
	SysPath string
	// Slot is a stable name for the place the drive sits (a PCIe port, an
	// ATA or SAS port, a USB port), Label its short form for a screen.
	Slot, Label string
}

// same reports whether a and b are one medium seen twice.
func (m Medium) same(o Medium) bool {
	return m.DiskSeq == o.DiskSeq && m.Major == o.Major && m.Minor == o.Minor && m.SizeBytes == o.SizeBytes
}

// Event is one insertion or removal.
type Event struct {
	Kind   Kind
	Medium Medium
	// Cause is the uevent that revealed it ("add", "change", "remove"), or
	// "rescan" when a periodic or overrun rescan found it.
	Cause string
}

// Options configure a Watcher.
type Options struct {
	// SysBlock is the directory listing the disks (default /sys/block).
	SysBlock string
	// Rescan is how often the disks are listed again even without events,
	// a safety net for lost events (default 5 s; < 0 never).
	Rescan time.Duration
}

// Watcher follows the disks of this machine.
type Watcher struct {
	conn  *Conn
	opts  Options
	known map[string]Medium
	start []Medium
}

// New subscribes to uevents and then lists the disks present now (in that
// order, so that nothing inserted in between is missed).
func New(o Options) (*Watcher, error) {
	if o.SysBlock == "" {
		o.SysBlock = "/sys/block"
	}
	if o.Rescan == 0 {
		o.Rescan = 5 * time.Second
	}
	c, err := Listen()
	if err != nil {
		return nil, err
	}
	w := &Watcher{conn: c, opts: o, known: map[string]Medium{}}
	for _, m := range w.scan() {
		w.known[m.Name] = m
		w.start = append(w.start, m)
	}
	return w, nil
}

// Present lists the disks that had a medium when the watcher started.
func (w *Watcher) Present() []Medium { return slices.Clone(w.start) }

// Run sends events to ch until ctx ends (it then closes the socket and
// returns ctx's error). Removals of a name come before the insertion that
// replaced it.
func (w *Watcher) Run(ctx context.Context, ch chan<- Event) error {
	defer w.conn.Close()
	next := time.Now().Add(w.opts.Rescan)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := 250 * time.Millisecond // how soon a cancelled ctx is noticed
		u, err := w.conn.Read(wait)
		switch {
		case err == nil:
			if u.IsDisk() {
				for _, ev := range w.update(u.DevName, u.Action) {
					if !send(ctx, ch, ev) {
						return ctx.Err()
					}
				}
			}
			continue
		case errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, ErrOverrun):
			next = time.Time{}
		default:
			return err
		}
		if w.opts.Rescan > 0 && !time.Now().Before(next) {
			next = time.Now().Add(w.opts.Rescan)
			for _, ev := range w.rescan() {
				if !send(ctx, ch, ev) {
					return ctx.Err()
				}
			}
		}
	}
}

func send(ctx context.Context, ch chan<- Event, ev Event) bool {
	select {
	case ch <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// update compares what sysfs says about one disk now with what was known.
func (w *Watcher) update(name, cause string) []Event {
	old, had := w.known[name]
	cur, has := w.read(name)
	var out []Event
	switch {
	case had && has && old.same(cur):
		return nil
	case had:
		delete(w.known, name)
		out = append(out, Event{Kind: Removed, Medium: old, Cause: cause})
	}
	if has {
		w.known[name] = cur
		out = append(out, Event{Kind: Inserted, Medium: cur, Cause: cause})
	}
	return out
}

// rescan lists every disk and reports the differences.
func (w *Watcher) rescan() []Event {
	names := map[string]bool{}
	for n := range w.known {
		names[n] = true
	}
	for _, m := range w.scan() {
		names[m.Name] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	var out []Event
	for _, n := range sorted {
		out = append(out, w.update(n, "rescan")...)
	}
	return out
}

func (w *Watcher) scan() []Medium {
	ents, err := os.ReadDir(w.opts.SysBlock)
	if err != nil {
		return nil
	}
	var out []Medium
	for _, e := range ents {
		if m, ok := w.read(e.Name()); ok {
			out = append(out, m)
		}
	}
	return out
}

// read describes the disk NAME if it exists and holds a medium.
func (w *Watcher) read(name string) (Medium, bool) { return Read(w.opts.SysBlock, name) }

// Read describes the disk NAME under sysBlock (/sys/block) if it exists
// and holds a medium.
func Read(sysBlock, name string) (Medium, bool) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return Medium{}, false
	}
	dir := filepath.Join(sysBlock, name)
	size, err := readUint(filepath.Join(dir, "size"))
	if err != nil || size == 0 {
		return Medium{}, false
	}
	m := Medium{Name: name, Path: "/dev/" + name, SizeBytes: int64(size) * 512}
	m.DiskSeq, _ = readUint(filepath.Join(dir, "diskseq"))
	if b, err := os.ReadFile(filepath.Join(dir, "dev")); err == nil {
		maj, min, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
		a, _ := strconv.ParseUint(maj, 10, 32)
		b, _ := strconv.ParseUint(min, 10, 32)
		m.Major, m.Minor = uint32(a), uint32(b)
	}
	if p, err := filepath.EvalSymlinks(dir); err == nil {
		m.SysPath = p
	}
	m.Slot, m.Label = SlotOf(name, m.SysPath)
	return m, true
}

func readUint(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}
