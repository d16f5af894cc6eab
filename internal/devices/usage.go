package devices

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// devno is a block device number.
type devno struct{ major, minor uint32 }

func (d devno) String() string { return fmt.Sprintf("%d:%d", d.major, d.minor) }

// systemMountPoints are the mounts whose backing devices make up the running
// system. A device under any of them is never wiped, forced or not.
var systemMountPoints = []string{"/", "/boot", "/boot/efi", "/usr", "/var"}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	dev        devno
	mountPoint string
	fsType     string
	source     string
}

// parseMountinfo parses /proc/self/mountinfo (proc(5)): fields are separated
// by spaces, optional fields end at " - ", and paths escape spaces as \040.
func parseMountinfo(data string) []mountEntry {
	var out []mountEntry
	for line := range strings.SplitSeq(data, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 5 || len(g) < 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[2], ":")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(maj, 10, 32)
		b, err2 := strconv.ParseUint(min, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, mountEntry{
			dev:        devno{uint32(a), uint32(b)},
			mountPoint: unescapeMount(f[4]),
			fsType:     g[0],
			source:     unescapeMount(g[1]),
		})
	}
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// swapEntry is one active swap area from /proc/swaps.
type swapEntry struct {
	file string
	kind string // "partition" or "file"
}

func parseSwaps(data string) []swapEntry {
	var out []swapEntry
	sc := bufio.NewScanner(strings.NewReader(data))
	first := true
	for sc.Scan() {
		if first { // header line
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		out = append(out, swapEntry{file: unescapeMount(f[0]), kind: f[1]})
	}
	return out
}

// lowerDevices returns every block device that dev is built on, dev
// included: the whole disk of a partition, the slaves of dm and md devices,
// and the device holding a loop device's backing file. A mount on any of
// them depends on all of them.
func (e Env) lowerDevices(dev devno) []devno {
	seen := map[devno]bool{}
	var walk func(devno)
	walk = func(d devno) {
		if seen[d] || d.major == 0 {
			return
		}
		seen[d] = true
		dir, err := filepath.EvalSymlinks(e.path("/sys/dev/block/" + d.String()))
		if err != nil {
			return
		}
		if exists(filepath.Join(dir, "partition")) {
			walk(devnoOf(filepath.Dir(dir)))
		}
		slaves, _ := os.ReadDir(filepath.Join(dir, "slaves"))
		for _, s := range slaves {
			walk(e.devnoOfName(s.Name()))
		}
		if bf := readString(filepath.Join(dir, "loop/backing_file")); bf != "" {
			var st unix.Stat_t
			if unix.Stat(e.path(bf), &st) == nil {
				walk(devno{unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev))})
			}
		}
	}
	walk(dev)
	out := make([]devno, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	return out
}

func devnoOf(sysdir string) devno {
	a, b := readDevno(filepath.Join(sysdir, "dev"))
	return devno{a, b}
}

func (e Env) devnoOfName(name string) devno {
	dir, err := filepath.EvalSymlinks(e.path("/sys/class/block/" + name))
	if err != nil {
		return devno{}
	}
	return devnoOf(dir)
}

func (e Env) nameOf(d devno) string {
	dir, err := filepath.EvalSymlinks(e.path("/sys/dev/block/" + d.String()))
	if err != nil {
		return d.String()
	}
	return filepath.Base(dir)
}

// sourceDevno is the device a mount or swap source names. Filesystems with
// anonymous device numbers (btrfs, overlay) report 0:N in mountinfo, so the
// source path is the only link to the disk.
func (e Env) sourceDevno(source string) (devno, bool) {
	if !strings.HasPrefix(source, "/") {
		return devno{}, false
	}
	var st unix.Stat_t
	if err := unix.Stat(e.path(source), &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
		return devno{unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))}, true
	}
	// No device node (a minimal /dev, or a test tree): /dev/NAME is the
	// kernel name, which sysfs resolves.
	if name, ok := strings.CutPrefix(source, "/dev/"); ok && !strings.Contains(name, "/") {
		if d := e.devnoOfName(name); d.major != 0 {
			return d, true
		}
	}
	return devno{}, false
}

// fillUsage records what uses d: mounts, holders, swap, the running system,
// other exclusive openers, and loop devices backed by an image file.
func (e Env) fillUsage(d *Device) error {
	u := Usage{}
	mine := map[devno]string{} // d and its partitions -> name
	if d.Kind != KindFile {
		mine[devno{d.Major, d.Minor}] = d.Name
		for _, p := range d.Partitions {
			mine[devno{p.Major, p.Minor}] = p.Name
		}
	}

	mountinfo, err := os.ReadFile(e.path("/proc/self/mountinfo"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("usage of %s: %w", d.Path, err)
	}
	if d.Kind != KindFile {
		for _, m := range parseMountinfo(string(mountinfo)) {
			via, ok := e.dependsOn(m.dev, m.source, mine)
			if !ok {
				continue
			}
			mt := Mount{Source: m.source, MountPoint: m.mountPoint, FSType: m.fsType}
			if via != d.Name {
				mt.Via = via
			}
			u.Mounts = append(u.Mounts, mt)
			if slices.Contains(systemMountPoints, m.mountPoint) && u.System == "" {
				u.System = "holds the running system's " + m.mountPoint + " filesystem"
			}
		}
		swaps, _ := os.ReadFile(e.path("/proc/swaps"))
		for _, s := range parseSwaps(string(swaps)) {
			var dev devno
			if s.kind == "partition" {
				var ok bool
				if dev, ok = e.sourceDevno(s.file); !ok {
					continue
				}
			} else {
				var st unix.Stat_t
				if unix.Stat(e.path(s.file), &st) != nil {
					continue
				}
				dev = devno{unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev))}
			}
			if _, ok := e.dependsOn(dev, "", mine); ok {
				u.Swap = append(u.Swap, s.file)
			}
		}
		for _, name := range sortedKeys(mine) {
			dir, err := filepath.EvalSymlinks(e.path("/sys/class/block/" + name))
			if err != nil {
				continue
			}
			hs, _ := os.ReadDir(filepath.Join(dir, "holders"))
			for _, h := range hs {
				u.Holders = append(u.Holders, h.Name())
			}
		}
		u.Busy = e.busy(d.Path)
	} else {
		u.LoopBacking = e.loopsBackedBy(d.Path)
	}
	d.Usage = u
	return nil
}

// dependsOn reports whether a filesystem or swap on dev (or named source)
// lives on one of mine, and through which of them.
func (e Env) dependsOn(dev devno, source string, mine map[devno]string) (string, bool) {
	if dev.major == 0 {
		var ok bool
		if dev, ok = e.sourceDevno(source); !ok {
			return "", false
		}
	}
	lower := e.lowerDevices(dev)
	for _, l := range lower {
		if _, ok := mine[l]; ok {
			// Report the device the mount sits on directly when it is not
			// one of ours (a dm or loop device stacked on top).
			if name, direct := mine[dev]; direct {
				return name, true
			}
			return e.nameOf(dev), true
		}
	}
	return "", false
}

// busy reports whether the kernel refuses an exclusive open: a mounted
// filesystem, a holder, or another program with O_EXCL has the device.
func (e Env) busy(path string) bool {
	full := e.path(path)
	if _, err := os.Stat(full); err != nil {
		return false
	}
	fd, err := unix.Open(full, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return errors.Is(err, unix.EBUSY)
	}
	unix.Close(fd)
	return false
}

// loopsBackedBy lists attached loop devices whose backing file is path.
func (e Env) loopsBackedBy(path string) []string {
	var want unix.Stat_t
	if unix.Stat(e.path(path), &want) != nil {
		return nil
	}
	entries, _ := os.ReadDir(e.path("/sys/block"))
	var out []string
	for _, ent := range entries {
		if !strings.HasPrefix(ent.Name(), "loop") {
			continue
		}
		bf := readString(e.path("/sys/block/" + ent.Name() + "/loop/backing_file"))
		if bf == "" {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(e.path(strings.TrimSuffix(bf, " (deleted)")), &st) != nil {
			continue
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			out = append(out, "/dev/"+ent.Name())
		}
	}
	return out
}

func sortedKeys(m map[devno]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
