package station

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// Selection is the operator's choice of drives.
type Selection struct {
	Args     []string // devices named explicitly
	All      bool     // every physical device that passes the guards
	Excludes []string // with All: skip by path, serial or WWN
	Force    bool     // override the refusals that may safely be overridden
}

// Skipped is a drive Select passed over, and why.
type Skipped struct {
	Device *devices.Device
	Reason string
}

// RefusedError lists drives the guards refused; nothing was written.
type RefusedError struct{ Refusals []string }

func (e *RefusedError) Error() string {
	return strings.Join(e.Refusals, "\nlethe: ") + "\nnothing was written"
}

// Select turns the selection into devices that pass the guards. With an
// explicit list, any refusal stops everything before a byte is written
// (*RefusedError); with All, refused and excluded drives are skipped and
// reported. Overridden refusals are logged.
func Select(s Selection, log *slog.Logger) ([]*devices.Device, []Skipped, error) {
	switch {
	case len(s.Args) == 0 && !s.All:
		return nil, nil, optionErr("name the devices to wipe, or pass --all: lethe touches nothing without an explicit list")
	case len(s.Args) > 0 && s.All:
		return nil, nil, optionErr("give either a device list or --all, not both")
	case len(s.Excludes) > 0 && !s.All:
		return nil, nil, optionErr("--exclude only applies with --all")
	}
	if s.All {
		return selectAll(s)
	}
	var out []*devices.Device
	var refusals []string
	seen := map[string]string{}
	for _, arg := range s.Args {
		d, err := devices.Describe(arg)
		if err != nil {
			return nil, nil, err
		}
		key := d.Path
		if d.Kind != devices.KindFile {
			key = fmt.Sprintf("%d:%d", d.Major, d.Minor)
		}
		if prev, dup := seen[key]; dup {
			return nil, nil, optionErr("%s and %s are the same device", prev, arg)
		}
		seen[key] = arg
		for _, r := range devices.Check(d) {
			if s.Force && r.Forceable {
				log.Warn("guard overridden by --force", "device", d.Path, "reason", r.Detail)
				continue
			}
			refusals = append(refusals, r.Error())
		}
		out = append(out, d)
	}
	if len(refusals) > 0 {
		return nil, nil, &RefusedError{refusals}
	}
	return out, nil, nil
}

func selectAll(s Selection) ([]*devices.Device, []Skipped, error) {
	list, err := devices.Discover()
	if err != nil {
		return nil, nil, err
	}
	var out []*devices.Device
	var skips []Skipped
	for _, d := range list {
		if d.Transport == devices.TransportLoop {
			// Loop devices are not media; they are wiped only when named.
			skips = append(skips, Skipped{d, "loop device: name it explicitly to wipe it"})
			continue
		}
		if d.Virtual {
			continue
		}
		if sel := matchAny(d, s.Excludes); sel != "" {
			skips = append(skips, Skipped{d, "excluded by --exclude " + sel})
			continue
		}
		if r := devices.Allowed(d, s.Force); r != nil {
			skips = append(skips, Skipped{d, r.Detail})
			continue
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, skips, optionErr("--all found no device that may be wiped")
	}
	return out, skips, nil
}

func matchAny(d *devices.Device, sels []string) string {
	for _, s := range sels {
		if d.Matches(s) {
			return s
		}
	}
	return ""
}

// OpenTarget opens one drive for writing, exclusively unless it has
// holders the operator forced past, and checks that it is still the size
// it was described with (media swapped, loop device re-attached).
func OpenTarget(d *devices.Device, force bool) (wipe.Target, error) {
	shared := force && len(d.Usage.Holders) > 0
	t, err := wipe.Open(d.Path, wipe.OpenOptions{Shared: shared})
	if err != nil {
		var busy *wipe.BusyError
		if errors.As(err, &busy) {
			return nil, &devices.Refusal{Device: d.Path, Reason: devices.ReasonBusy, Detail: "is open exclusively by another program (device busy); nothing was written"}
		}
		return nil, err
	}
	if t.Size() != d.SizeBytes {
		t.Close()
		return nil, optionErr("%s: size changed from %d to %d bytes since it was described; nothing was written", d.Path, d.SizeBytes, t.Size())
	}
	return t, nil
}

// OpenTargets opens every drive before any is written, so that a busy or
// changed drive stops the run while nothing has been touched.
func OpenTargets(list []*devices.Device, force bool) ([]wipe.Target, error) {
	var out []wipe.Target
	for _, d := range list {
		t, err := OpenTarget(d, force)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
