package bays

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/hotplug"
	"github.com/lethe-project/lethe/internal/testutil"
	"github.com/lethe-project/lethe/internal/wipe"
)

// fakeWiper wipes nothing: a wipe runs until the test releases it or the
// drive is pulled.
type fakeWiper struct {
	mu      sync.Mutex
	exclude string
	release map[string]chan struct{}
	wiped   []string
}

func (f *fakeWiper) gate(name string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.release[name] == nil {
		f.release[name] = make(chan struct{})
	}
	return f.release[name]
}

func (f *fakeWiper) Identify(_ context.Context, m hotplug.Medium) Decision {
	if m.Name == f.exclude {
		return Decision{Reason: "excluded by serial", Serial: "EXCL"}
	}
	return Decision{Wipe: true, Serial: "S-" + m.Name, Technique: "overwrite"}
}

func (f *fakeWiper) Wipe(ctx context.Context, m hotplug.Medium, progress func(wipe.Progress)) Outcome {
	f.mu.Lock()
	f.wiped = append(f.wiped, m.Name)
	f.mu.Unlock()
	progress(wipe.Progress{Phase: wipe.PhaseOverwrite, Pass: 1, Passes: 1, Done: 1, Total: 2})
	select {
	case <-f.gate(fmt.Sprint(m.Name, m.DiskSeq)):
		return Outcome{Status: "ERASED", Cert: "/certs/" + m.Name + ".cert.json", Delivery: "sent"}
	case <-ctx.Done():
		if context.Cause(ctx) == ErrRemoved {
			return Outcome{Status: "ABORTED", Cert: "/certs/" + m.Name + ".cert.json", Note: ErrRemoved.Error()}
		}
		return Outcome{Status: "ABORTED", Note: "station stopped"}
	}
}

type loop struct{ dev, file string }

func attach(t *testing.T, size int64) loop {
	t.Helper()
	f := filepath.Join(t.TempDir(), "d.img")
	os.WriteFile(f, nil, 0o600)
	os.Truncate(f, size)
	out, err := exec.Command("losetup", "-f", "--show", f).Output()
	if err != nil {
		t.Fatal(err)
	}
	l := loop{strings.TrimSpace(string(out)), f}
	t.Cleanup(func() { exec.Command("losetup", "-d", l.dev).Run() })
	return l
}

// pull empties a loop device the way a card reader loses its medium: the
// size drops to 0 (LOOP_SET_CAPACITY after the backing file shrank), a
// change uevent follows, and I/O fails.
func (l loop) pull(t *testing.T) {
	t.Helper()
	if err := os.Truncate(l.file, 0); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("losetup", "-c", l.dev).CombinedOutput(); err != nil {
		t.Fatalf("losetup -c: %v %s", err, out)
	}
}

func TestStationSlots(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "losetup")
	before := attach(t, 1<<20)
	w, err := hotplug.New(hotplug.Options{Rescan: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fw := &fakeWiper{release: map[string]chan struct{}{}}
	changed := make(chan struct{}, 1000)
	st := New(fw, Options{Settle: 50 * time.Millisecond, Count: 2, OnChange: func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}, Log: func(f string, a ...any) { t.Logf(f, a...) }})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- st.Run(ctx, w) }()
	slotOf := func(dev string) Slot {
		for _, s := range st.Slots() {
			if s.Label == filepath.Base(dev) {
				return s
			}
		}
		return Slot{}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for !cond() {
			select {
			case <-changed:
			case <-time.After(100 * time.Millisecond):
			case <-deadline:
				t.Fatalf("timed out waiting for %s; slots %+v", what, st.Slots())
			}
		}
	}
	waitFor("the present drive kept", func() bool { return slotOf(before.dev).Phase == Kept })
	if n := slotOf(before.dev).Note; !strings.Contains(n, "present when the station started") {
		t.Errorf("kept note %q", n)
	}

	// An excluded drive is identified and kept.
	ex := attach(t, 1<<20)
	fw.mu.Lock()
	fw.exclude = filepath.Base(ex.dev)
	fw.mu.Unlock()
	// (exclude was set after attach; the settle delay covers the race.)
	waitFor("the excluded drive kept", func() bool { return slotOf(ex.dev).Phase == Kept })

	// A drive inserted, wiped, then removed: the slot frees.
	a := attach(t, 2<<20)
	waitFor("a wiping", func() bool { return slotOf(a.dev).Phase == Wiping })
	close(fw.gate(fmt.Sprint(filepath.Base(a.dev), slotOf(a.dev).Medium.DiskSeq)))
	waitFor("a done", func() bool { s := slotOf(a.dev); return s.Phase == Done && s.Result == "ERASED" })
	exec.Command("losetup", "-d", a.dev).Run()
	waitFor("a's slot free", func() bool { s := slotOf(a.dev); return s.Phase == Waiting && strings.Contains(s.Last, "ERASED") })

	// A drive pulled mid-wipe ends ABORTED and frees its slot.
	b := attach(t, 2<<20)
	waitFor("b wiping", func() bool { return slotOf(b.dev).Phase == Wiping })
	b.pull(t)
	waitFor("b's slot free", func() bool { s := slotOf(b.dev); return s.Phase == Waiting && strings.Contains(s.Last, "ABORTED") })

	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	if st.Finished() != 2 {
		t.Errorf("finished %d", st.Finished())
	}
	for _, name := range fw.wiped {
		if name == filepath.Base(before.dev) || name == filepath.Base(ex.dev) {
			t.Errorf("wiped %s, which must be kept", name)
		}
	}
}
