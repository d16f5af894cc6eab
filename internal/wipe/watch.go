package wipe

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lethe-project/lethe/internal/devices"
)

// Watcher observes a device around a host overwrite for what the engine's
// own I/O cannot show: writes by other programs, and the device changing
// size or identity. Overwrite calls Begin before the first pass,
// LastWriteDone once the last pass is written and synced, and End after the
// last read; End's record goes into the report, and any problem in it keeps
// the drive from ERASED.
type Watcher interface {
	Begin()
	LastWriteDone()
	End(own OwnIO) *WatchRecord
}

// OwnIO is what lethe itself did in the watched window.
type OwnIO struct {
	// Written and Submitted are bytes: written successfully, and passed to
	// write calls (failed and retried ones included).
	Written, Submitted int64
	// FullReadBack is true when the last pass was read back in full after
	// LastWriteDone: any write before that read reached is then a mismatch.
	FullReadBack bool
}

// Limits of the checks, in the words the certificate uses.
const (
	limitOtherPaths = "writes that do not pass through this machine's block layer cannot be seen: another host on shared storage (multipath, dual-ported SAS, a SAN or NVMe-oF namespace), a hypervisor writing a virtual disk's backing store, or the drive's own firmware"
	limitAfter      = "a write issued after lethe flushed the page caches at the end of its last read is outside the window"
	limitLoopFile   = "a write made to the backing file directly (not through a loop device) is not in any block device's counters; the file's change time shows one made after lethe's last write"
	limitLoopsLater = "a loop device attached to the same file after the start and detached before the end is not seen"
	limitFilePasses = "writes to the file while lethe's passes ran cannot be told from lethe's own by the change time; only a full read-back of the last pass finds those"
)

// NewWatch returns the watcher for a host overwrite of d through t: the
// kernel's write counters of a block device (and of other loop devices over
// the same backing file), the change time of an image file or a loop
// device's backing file, and d's size and identity before and after.
func NewWatch(env devices.Env, d *devices.Device, t Target) Watcher {
	return &deviceWatch{env: env, d: d, t: t}
}

type deviceWatch struct {
	env     devices.Env
	d       *devices.Device
	t       Target
	rec     WatchRecord
	sources []watchSource
	// ctimeFile is the file whose change time is compared; ctime0 its
	// change time after lethe's last write (zero until then).
	ctimeFile string
	ctime0    time.Time
}

type watchSource struct {
	name, role string
	self       bool
	before     devices.IOCounters
}

// flushCaches writes every dirty page of every file and block device back,
// twice (a device stacked on this one may write back into this one's
// cache): a buffered write is counted only when it reaches the device.
func flushCaches() {
	unix.Sync()
	unix.Sync()
}

func (w *deviceWatch) problem(format string, args ...any) {
	w.rec.Problems = append(w.rec.Problems, fmt.Sprintf(format, args...))
}

func (w *deviceWatch) unavailable(format string, args ...any) {
	w.problem(format, args...)
	if w.rec.Result == "" {
		w.rec.Result = WatchUnavailable
	}
}

func (w *deviceWatch) Begin() {
	d := w.d
	w.rec.SizeBefore = w.t.Size()
	w.rec.Limits = []string{limitOtherPaths, limitAfter}
	if d.Kind == devices.KindFile {
		w.ctimeFile = d.Path
		w.rec.Limits = []string{"an image file has no write counters: writes by other programs are seen only through the file's change time (ctime), from lethe's last write to its last read", limitFilePasses}
	} else {
		if !w.env.IOStatsEnabled(d.Name) {
			w.unavailable("the kernel keeps no I/O statistics for %s (queue/iostats is 0): writes by other programs cannot be counted; enable them (echo 1 > /sys/block/%s/queue/iostats) and run again", d.Name, d.Name)
		}
		w.sources = append(w.sources, watchSource{name: d.Name, role: "the device", self: true})
		if d.Transport == devices.TransportLoop {
			w.ctimeFile = d.BackingFile
			w.rec.Limits = append(w.rec.Limits, limitLoopFile, limitFilePasses, limitLoopsLater)
			for _, o := range w.env.LoopsOnSameFile(d) {
				if o.Overlaps(d.Window()) {
					w.sources = append(w.sources, watchSource{name: o.Name, role: "another loop device over the same bytes of " + d.BackingFile})
				}
			}
		}
		if sl := w.env.Slaves(d.Name); len(sl) > 0 {
			w.rec.Limits = append(w.rec.Limits, fmt.Sprintf("writes made directly to the devices %s is built on (%s) do not pass through it and are not counted", d.Name, strings.Join(sl, ", ")))
		}
	}
	w.recheck("before the first pass")
	flushCaches()
	for i := range w.sources {
		c, err := w.env.Counters(w.sources[i].name)
		if err != nil {
			w.unavailable("%v", err)
		}
		w.sources[i].before = c
	}
	w.rec.Started = time.Now().UTC()
}

// LastWriteDone records the change time after lethe's last write and waits
// until the clock has moved past it, so that any later write, which sets
// the change time to the current time, leaves a different one.
func (w *deviceWatch) LastWriteDone() {
	if w.ctimeFile == "" {
		return
	}
	c, err := changeTime(w.ctimeFile)
	if err != nil {
		w.unavailable("change time of %s: %v", w.ctimeFile, err)
		w.ctimeFile = ""
		return
	}
	w.ctime0 = c
	// Filesystems keep ctime to a granularity: nanoseconds on ext4, XFS,
	// btrfs, tmpfs; whole seconds (FAT: two) elsewhere, which shows as a
	// zero fraction.
	past := c
	if c.Nanosecond() == 0 {
		past = c.Add(2 * time.Second)
	}
	if !waitPast(past, 3*time.Second) {
		w.unavailable("the clock did not move past the change time %s of %s: a later write could leave the same change time", c.Format(time.RFC3339Nano), w.ctimeFile)
	}
}

func (w *deviceWatch) End(own OwnIO) *WatchRecord {
	flushCaches()
	w.rec.Ended = time.Now().UTC()
	w.rec.OwnSectorsWritten = own.Written / 512
	w.rec.OwnSectorsSubmitted = (own.Submitted + 511) / 512
	foreign := false
	for _, s := range w.sources {
		after, err := w.env.Counters(s.name)
		if err != nil {
			w.unavailable("%v", err)
			continue
		}
		cc := CounterCheck{Source: devices.StatPath(s.name), Role: s.role,
			SectorsWrittenBefore: s.before.SectorsWritten, SectorsWrittenAfter: after.SectorsWritten,
			SectorsDiscardedBefore: s.before.SectorsDiscarded, SectorsDiscardedAfter: after.SectorsDiscarded}
		written := int64(after.SectorsWritten - s.before.SectorsWritten)
		discarded := int64(after.SectorsDiscarded - s.before.SectorsDiscarded)
		if s.self {
			switch {
			case written > w.rec.OwnSectorsSubmitted:
				cc.ForeignSectors = written - w.rec.OwnSectorsSubmitted
			case written < w.rec.OwnSectorsWritten:
				w.unavailable("the kernel counted %d sectors written to %s, fewer than the %d lethe wrote: its counters do not show this device's writes, so other writers cannot be excluded", written, s.name, w.rec.OwnSectorsWritten)
			}
		} else {
			cc.ForeignSectors = written
		}
		cc.ForeignSectors += discarded
		if cc.ForeignSectors > 0 {
			foreign = true
			what := fmt.Sprintf("%d sector(s) written", written)
			if s.self {
				what = fmt.Sprintf("%d sector(s) written where lethe submitted %d", written, w.rec.OwnSectorsSubmitted)
			}
			if discarded > 0 {
				what += fmt.Sprintf(" and %d discarded", discarded)
			}
			w.problem("another program wrote to %s (%s) during the run: the kernel counted %s", s.name, s.role, what)
		}
		w.rec.Counters = append(w.rec.Counters, cc)
	}
	if w.ctimeFile != "" && !w.ctime0.IsZero() {
		c, err := changeTime(w.ctimeFile)
		ct := &ChangeTimeCheck{File: w.ctimeFile, AfterLastWrite: w.ctime0.UTC(), AfterLastRead: c.UTC()}
		w.rec.ChangeTime = ct
		switch {
		case err != nil:
			w.unavailable("change time of %s after the last read: %v", w.ctimeFile, err)
		case !c.Equal(w.ctime0):
			foreign = true
			w.problem("%s was changed after lethe's last write (change time %s, then %s): another program wrote to it", w.ctimeFile,
				w.ctime0.UTC().Format(time.RFC3339Nano), c.UTC().Format(time.RFC3339Nano))
		}
		if own.FullReadBack {
			w.rec.Limits = removeLimit(w.rec.Limits, limitFilePasses)
		}
	} else if w.ctimeFile != "" || w.d.Kind == devices.KindFile {
		// The last pass never completed: no change-time window.
		w.rec.Limits = append(w.rec.Limits, "the last pass did not complete, so the change time was not compared")
	}
	w.rec.SizeAfter = w.rec.SizeBefore
	if cs, ok := w.t.(interface{ CurrentSize() (int64, error) }); ok {
		if n, err := cs.CurrentSize(); err != nil {
			w.unavailable("size of %s after the last read: %v", w.d.Path, err)
		} else {
			w.rec.SizeAfter = n
		}
	}
	if w.rec.SizeAfter != w.rec.SizeBefore {
		verb := "grew"
		if w.rec.SizeAfter < w.rec.SizeBefore {
			verb = "shrank"
		}
		w.change(fmt.Sprintf("the open device %s from %d to %d bytes during the run", verb, w.rec.SizeBefore, w.rec.SizeAfter))
	}
	w.recheck("after the last read")
	switch {
	case foreign || len(w.rec.Changes) > 0:
		w.rec.Result = WatchFailed
	case w.rec.Result == "":
		w.rec.Result = WatchPassed
	}
	rec := w.rec
	return &rec
}

// recheck compares the device as described for the plan with what sysfs
// (or the file system) says now.
func (w *deviceWatch) recheck(when string) {
	now, err := w.env.Recheck(w.d)
	if err != nil {
		w.unavailable("%s: %v", when, err)
		return
	}
	for _, c := range devices.Changes(w.d, now) {
		w.change(c + " (seen " + when + ")")
	}
}

func (w *deviceWatch) change(c string) {
	w.rec.Changes = append(w.rec.Changes, c)
	w.problem("the device changed: %s", c)
}

func removeLimit(list []string, s string) []string {
	out := list[:0]
	for _, l := range list {
		if l != s {
			out = append(out, l)
		}
	}
	return out
}

func changeTime(path string) (time.Time, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return time.Time{}, err
	}
	return time.Unix(st.Ctim.Unix()), nil
}

// waitPast waits until the kernel's coarse clock, from which file times
// are taken, is after t, for at most limit.
func waitPast(t time.Time, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		var ts unix.Timespec
		if unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &ts) == nil && time.Unix(ts.Unix()).After(t) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// CurrentSize is the size the open device or file has now (BLKGETSIZE64,
// fstat), which changes when a device is resized under lethe.
func (t *fileTarget) CurrentSize() (int64, error) {
	if t.block {
		return blockSize(int(t.f.Fd()))
	}
	st, err := t.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
