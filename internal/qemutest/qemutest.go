// Package qemutest boots lethe's boot image under QEMU (TCG, no KVM) for
// tests, with disks of the kinds real servers have, and runs shell steps
// inside the guest.
//
// # How a guest test works
//
// GetImage builds the released image once per source tree (cached across
// test processes and runs) and derives a test initramfs from it: the
// released bytes plus an appended cpio overlay that makes
// internal/qemutest/guestrun the uinit instead of `lethe agent`. Released
// images never contain guestrun, and nothing on the kernel command line can
// make a released image run test scripts; only a harness that appends the
// overlay can. The image digest stays that of the released image.
//
// Boot starts QEMU with the kernel, the test initramfs, the disks, and a
// host directory shared over virtio-9p. guestrun loads the 9p modules and
// virtio_rng (QEMU's virtio-rng-pci seeds the guest's random pool; TCG has
// no RDRAND), mounts the share at /mnt/lethe, and runs each Step's script with
// /bin/sh (u-root's gosh: POSIX sh through mvdan.cc/sh) in the share's
// root, with $OUT (/mnt/lethe/out) for files to hand back. Storage modules
// are not loaded for you: run `lethe modules load` in a step, as the agent
// does. After the last step (or the first failing one), guestrun writes
// out/results.json, prints an end marker, drains the serial console and
// powers off. Boot fails the test if the guest does not finish within
// Options.Timeout (the guest is killed), or if the runner breaks.
//
// Booting costs 5-10 s of CPU under TCG and CI has two cores: put many
// steps in one boot rather than booting once per check.
//
// Example:
//
//	func TestGuestSeesDisks(t *testing.T) {
//		img := qemutest.GetImage(t)
//		res := qemutest.Boot(t, img, qemutest.Options{
//			Disks: []qemutest.Disk{
//				{Kind: qemutest.NVMe, Size: 64 << 20, Serial: "NVME0001"},
//				{Kind: qemutest.AHCI, Size: 64 << 20, Serial: "SATA0001"},
//			},
//		},
//			qemutest.Step{Name: "modules", Script: "lethe modules load"},
//			qemutest.Step{Name: "devices", Script: "lethe devices --json > $OUT/devices.json"},
//		)
//		res.RequireOK(t)                        // every step exited 0
//		data := res.ReadFile(t, "devices.json") // from the guest's $OUT
//		_ = data
//	}
//
// Steps' stdout and stderr are in res.Step(name).Stdout/.Stderr (and on
// the console log). Find disks in the guest by the serial you gave them
// (`lethe devices --json`), not by name: NVMe disks are nvme0n1..., AHCI
// and SCSI disks sdX in probe order, virtio-blk vdX. Setting
// LETHE_QEMU_KEEP=DIR keeps each guest's console log and share in
// DIR/TESTNAME for inspection. Options.Files puts input files (keys, configs,
// static test programs: ELF files are made executable) into the share before boot; Options.Network gives the guest a virtio NIC on
// QEMU user networking, where the host's loopback services answer at
// 10.0.2.2 (in a step: `lethe modules load` for the NIC driver, then
// `dhclient -ipv6=false eth0`); Options.PXE boots
// through iPXE instead of -kernel/-initrd. Options.Released boots the
// released initramfs untouched, so `lethe agent` runs as it will on a
// server (configured with Options.Cmdline); such a guest takes no steps and
// must power itself off.
package qemutest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/image"
	"github.com/lethe-project/lethe/internal/qemutest/guestproto"
	"github.com/lethe-project/lethe/internal/testutil"
)

// QEMU is the emulator binary (Debian: qemu-system-x86).
const QEMU = "qemu-system-x86_64"

// DiskKind is how a disk is attached.
type DiskKind string

// Disk kinds: the storage paths of real servers that QEMU emulates.
const (
	NVMe       DiskKind = "nvme"        // -device nvme
	AHCI       DiskKind = "ahci"        // -device ide-hd on the q35 ICH9 AHCI controller (SATA)
	VirtioBlk  DiskKind = "virtio-blk"  // -device virtio-blk-pci
	VirtioSCSI DiskKind = "virtio-scsi" // -device scsi-hd on a virtio-scsi-pci HBA
	USB        DiskKind = "usb"         // -device usb-storage on a qemu-xhci controller (a USB stick)
)

// Disk is one disk of the guest, backed by a raw image file.
type Disk struct {
	Kind DiskKind
	// Size of a new sparse backing file in bytes (when File is empty).
	Size int64
	// Serial is the serial number the device reports.
	Serial string
	// File is an existing raw image to use; empty: created in the test's
	// temporary directory (see Machine.DiskFiles for its path).
	File string
	// Props are extra -device properties, e.g. "logical_block_size=4096"
	// or "wwn=0x5000c500a1b2c3d4".
	Props []string
}

// Options configure a guest.
type Options struct {
	Disks []Disk
	// Memory is QEMU's -m (default "1G").
	Memory string
	// Timeout bounds the whole boot (default 5 minutes); the guest is
	// killed when it expires and the test fails.
	Timeout time.Duration
	// Cmdline is added to the kernel command line.
	Cmdline string
	// Network attaches a virtio NIC on QEMU user networking. The guest
	// is 10.0.2.15 after DHCP and reaches the host's 127.0.0.1 at 10.0.2.2.
	Network bool
	// PXE boots through iPXE over user networking (implies Network): the
	// NIC's iPXE ROM gets test.ipxe over TFTP, which sets lethe-base to an
	// HTTP server on the host's loopback and chains the released
	// boot.ipxe, which fetches the kernel and the test initramfs.
	PXE bool
	// TapPXE boots through the NIC's iPXE ROM on an existing tap device
	// of that name (no QEMU user networking): the network, its DHCP and
	// boot servers are the test's. The kernel command line comes from
	// whatever serves the boot script, not from Cmdline. Use with Netns.
	TapPXE string
	// Netns runs QEMU inside that network namespace (ip netns exec), for
	// a tap device that lives there.
	Netns string
	// Files are written into the share before boot (path relative to the
	// share -> contents); steps read them from /mnt/lethe/PATH.
	Files map[string][]byte
	// QEMUArgs are appended to QEMU's arguments (a TPM, more devices).
	QEMUArgs []string
	// Stdin, when set, is the guest's serial console input (a test that
	// types into the rescue shell writes to it, e.g. from OnConsole).
	Stdin io.Reader
	// OnConsole, when set, is called with every line the guest prints on
	// its serial console, as it arrives (a test reacting to the guest:
	// starting a service once the guest reached a point). It runs with the
	// console's lock held: return quickly, start slow work in a goroutine.
	OnConsole func(line string)
	// QMPSocket, when set, is where QEMU listens for QMP (see DialQMP):
	// a test hot-plugs devices while its steps run.
	QMPSocket string
	// Released boots the released initramfs as it is, so its own uinit
	// (`lethe agent`) runs, configured by Cmdline, instead of the test
	// runner: no share, no steps. Boot returns once the guest powers
	// itself off and fails the test if it has not within Timeout. Check
	// what it did through Result.Console and the services it talked to.
	Released bool
}

// Step is a shell script run in the guest; see the package documentation.
type Step struct {
	Name   string
	Script string
	// ContinueOnError runs the following steps even if this one fails.
	ContinueOnError bool
	// Timeout kills the step inside the guest (0: only Options.Timeout).
	Timeout time.Duration
}

// StepResult is what a step did.
type StepResult struct {
	Name     string
	Ran      bool
	ExitCode int
	Error    string
	Stdout   string
	Stderr   string
	// Took is measured on the guest's clock.
	Took time.Duration
	// Start and End are the guest's uptime (seconds since the kernel
	// started) when the step began and ended.
	Start, End float64
}

// Result is a finished guest.
type Result struct {
	// Console is the serial console output; ConsoleFile its log file.
	Console     string
	ConsoleFile string
	// Share is the host side of the 9p share; Out is Share/out.
	Share string
	Out   string
	// DiskFiles are the disks' backing files, in Options.Disks order.
	DiskFiles []string
	Steps     []StepResult
	// UptimeStart is the guest's uptime (seconds since the kernel
	// started) when the uinit began running; UptimeReady once the share
	// was mounted.
	UptimeStart, UptimeReady float64
	// Took is the wall time from starting QEMU to its exit.
	Took time.Duration
}

// Require checks the programs a guest test needs: it fails in CI and
// skips elsewhere when they are missing.
func Require(t testing.TB) {
	t.Helper()
	testutil.RequireCommand(t, QEMU)
}

// Boot runs a guest to completion and returns what it did. It fails the
// test if QEMU cannot start, the guest times out, or the runner in the
// guest fails; failing steps are reported in the Result (see RequireOK).
func Boot(t testing.TB, img *Image, opt Options, steps ...Step) *Result {
	t.Helper()
	Require(t)
	res, err := boot(t, img, opt, steps)
	if err != nil {
		if res != nil {
			t.Logf("guest console (%s), last lines:\n%s", res.ConsoleFile, tail(res.Console, 80))
		}
		t.Fatalf("qemu guest: %v", err)
	}
	return res
}

func boot(t testing.TB, img *Image, opt Options, steps []Step) (*Result, error) {
	if opt.Memory == "" {
		opt.Memory = "1G"
	}
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Minute
	}
	if opt.Released && len(steps) > 0 {
		return nil, errors.New("a released image runs its own uinit: it takes no steps")
	}
	initrd := img.TestInitramfs
	if opt.Released {
		initrd = img.Initramfs
	}
	work := t.TempDir()
	res := &Result{
		Share:       filepath.Join(work, "share"),
		ConsoleFile: filepath.Join(work, "console.log"),
	}
	res.Out = filepath.Join(res.Share, guestproto.OutDir)
	if err := writeShare(res.Share, opt.Files, steps); err != nil {
		return nil, err
	}

	// -no-reboot: a guest that reboots or panics (panic=-1) ends QEMU.
	// virtio-rng: TCG's CPU has no RDRAND, and the kernel's random pool
	// would take minutes to initialize (getrandom blocks until it does).
	args := []string{"-M", "q35", "-m", opt.Memory, "-smp", "1", "-nographic", "-no-reboot",
		"-device", "virtio-rng-pci"}
	if !opt.Released {
		args = append(args, "-virtfs", "local,path="+res.Share+",mount_tag="+guestproto.MountTag+",security_model=none,id=share")
	}
	// The test's additions to the command line; boot.ipxe already names
	// the consoles (a second console=ttyS0 would print every line twice).
	extra := strings.TrimSpace("panic=-1 loglevel=4 " + opt.Cmdline)
	var srv *http.Server
	switch {
	case opt.TapPXE != "":
		args = append(args, "-boot", "n",
			"-netdev", "tap,id=n0,ifname="+opt.TapPXE+",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev=n0")
	case opt.PXE:
		tftp := filepath.Join(work, "tftp")
		var err error
		srv, err = pxeDir(tftp, img, initrd, extra)
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		args = append(args, "-boot", "n",
			"-netdev", "user,id=n0,tftp="+tftp+",bootfile=test.ipxe",
			"-device", "virtio-net-pci,netdev=n0")
	default:
		args = append(args, "-kernel", img.Kernel, "-initrd", initrd, "-append", "console=ttyS0,115200 "+extra)
		if opt.Network {
			args = append(args, "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0")
		} else {
			args = append(args, "-nic", "none")
		}
	}
	diskArgs, files, err := diskArgs(work, opt.Disks)
	if err != nil {
		return nil, err
	}
	res.DiskFiles = files
	args = append(args, diskArgs...)
	args = append(args, opt.QEMUArgs...)
	if opt.QMPSocket != "" {
		args = append(args, "-qmp", "unix:"+opt.QMPSocket+",server=on,wait=off")
	}

	logf, err := os.Create(res.ConsoleFile)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), opt.Timeout)
	defer cancel()
	bin := QEMU
	if opt.Netns != "" {
		bin, args = "ip", append([]string{"netns", "exec", opt.Netns, QEMU}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	con := &console{log: logf, onLine: opt.OnConsole}
	// After the end marker the guest powers off within seconds; if it
	// does not (a broken power-off path), stop it and fail.
	var stuck atomic.Bool
	con.onEnd = func() {
		time.AfterFunc(20*time.Second, func() { stuck.Store(true); cancel() })
	}
	cmd.Stdout, cmd.Stderr = con, con
	if opt.Stdin != nil {
		// An *os.File, so that exec does not wait for a copying goroutine
		// blocked on the test's reader after QEMU is gone.
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		defer pr.Close()
		defer pw.Close()
		go io.Copy(pw, opt.Stdin)
		cmd.Stdin = pr
	}
	t.Logf("qemu %s", strings.Join(args, " "))
	start := time.Now()
	runErr := cmd.Run()
	res.Took = time.Since(start)
	res.Console = con.String()
	keep(t, res)
	ended := con.ended()
	if strings.Contains(res.Console, "Kernel panic - not syncing") {
		// panic=-1 reboots at once and -no-reboot turns that into a clean
		// QEMU exit: only the console tells a panic from a power-off.
		return res, errors.New("the guest kernel panicked")
	}
	if opt.Released {
		switch {
		case ctx.Err() != nil:
			return res, fmt.Errorf("the guest did not power itself off within %s (killed)", opt.Timeout)
		case runErr != nil:
			return res, fmt.Errorf("qemu: %v", runErr)
		case !strings.Contains(res.Console, "reboot: Power down"):
			return res, errors.New("the guest stopped without powering off")
		}
		t.Logf("released image ran and powered off; QEMU ran %s", res.Took.Round(10*time.Millisecond))
		return res, nil
	}
	switch {
	case ctx.Err() != nil && !ended:
		return res, fmt.Errorf("guest did not finish within %s (killed)", opt.Timeout)
	case !ended:
		return res, fmt.Errorf("qemu exited (%v) before the guest runner finished", runErr)
	case stuck.Load():
		return res, errors.New("the guest finished but did not power itself off within 20 s (killed)")
	case runErr != nil:
		return res, fmt.Errorf("qemu: %v", runErr)
	}
	if err := readResults(res, steps); err != nil {
		return res, err
	}
	t.Logf("guest ran %d steps; uinit at %.2fs after kernel start; QEMU ran %s", len(res.Steps), res.UptimeStart, res.Took.Round(10*time.Millisecond))
	return res, nil
}

func writeShare(share string, files map[string][]byte, steps []Step) error {
	if err := os.MkdirAll(filepath.Join(share, guestproto.StepsDir), 0o755); err != nil {
		return err
	}
	for rel, data := range files {
		p := filepath.Join(share, filepath.FromSlash(rel))
		if !strings.HasPrefix(p, share+string(filepath.Separator)) {
			return fmt.Errorf("share file %q escapes the share", rel)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		// Programs (ELF files) stay executable in the guest; the image
		// has no chmod.
		mode := os.FileMode(0o644)
		if strings.HasPrefix(string(data[:min(len(data), 4)]), "\x7fELF") {
			mode = 0o755
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			return err
		}
	}
	var plan guestproto.Plan
	seen := map[string]bool{}
	for i, s := range steps {
		if s.Name == "" || strings.ContainsAny(s.Name, "/ \t\n") || seen[s.Name] {
			return fmt.Errorf("step %d: name %q must be unique, non-empty, without spaces or slashes", i, s.Name)
		}
		seen[s.Name] = true
		script := fmt.Sprintf("%s/%02d-%s.sh", guestproto.StepsDir, i, s.Name)
		if err := os.WriteFile(filepath.Join(share, script), []byte(s.Script+"\n"), 0o755); err != nil {
			return err
		}
		plan.Steps = append(plan.Steps, guestproto.Step{Name: s.Name, Script: script, ContinueOnError: s.ContinueOnError, TimeoutSeconds: int(s.Timeout.Seconds())})
	}
	data, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(share, guestproto.PlanFile), data, 0o644)
}

// diskArgs creates the backing files and returns QEMU's arguments.
func diskArgs(work string, disks []Disk) ([]string, []string, error) {
	var args, files []string
	ahciPort, scsiHBA, usbHC := 0, false, false
	for i, d := range disks {
		file := d.File
		if file == "" {
			if d.Size <= 0 {
				return nil, nil, fmt.Errorf("disk %d: no Size and no File", i)
			}
			file = filepath.Join(work, fmt.Sprintf("disk%d-%s.img", i, d.Kind))
			f, err := os.Create(file)
			if err != nil {
				return nil, nil, err
			}
			err = f.Truncate(d.Size)
			f.Close()
			if err != nil {
				return nil, nil, err
			}
		}
		files = append(files, file)
		id := fmt.Sprintf("d%d", i)
		if strings.ContainsAny(file, ",") {
			return nil, nil, fmt.Errorf("disk %d: QEMU cannot take a file name with a comma: %s", i, file)
		}
		args = append(args, "-drive", "file="+file+",if=none,id="+id+",format=raw,discard=unmap")
		var dev []string
		switch d.Kind {
		case NVMe:
			dev = []string{"nvme", "drive=" + id}
		case AHCI:
			if ahciPort > 5 {
				return nil, nil, errors.New("the q35 AHCI controller has 6 ports")
			}
			dev = []string{"ide-hd", "drive=" + id, fmt.Sprintf("bus=ide.%d", ahciPort)}
			ahciPort++
		case VirtioBlk:
			dev = []string{"virtio-blk-pci", "drive=" + id}
		case VirtioSCSI:
			if !scsiHBA {
				args = append(args, "-device", "virtio-scsi-pci,id=scsi0")
				scsiHBA = true
			}
			dev = []string{"scsi-hd", "drive=" + id, "bus=scsi0.0"}
		case USB:
			if !usbHC {
				args = append(args, "-device", "qemu-xhci,id=xhci")
				usbHC = true
			}
			dev = []string{"usb-storage", "drive=" + id, "bus=xhci.0"}
		default:
			return nil, nil, fmt.Errorf("disk %d: unknown kind %q", i, d.Kind)
		}
		if d.Serial != "" {
			if strings.ContainsAny(d.Serial, ", ") {
				return nil, nil, fmt.Errorf("disk %d: serial %q must not contain commas or spaces", i, d.Serial)
			}
			dev = append(dev, "serial="+d.Serial)
		}
		dev = append(dev, d.Props...)
		args = append(args, "-device", strings.Join(dev, ","))
	}
	return args, files, nil
}

// pxeDir fills the TFTP root and serves it over HTTP on the host's
// loopback. test.ipxe, the boot file, points lethe-base at that server
// (10.0.2.2 from the guest) and chains the released boot.ipxe.
func pxeDir(dir string, img *Image, initrd, cmdline string) (*http.Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for dst, src := range map[string]string{
		image.KernelFile:    img.Kernel,
		image.InitramfsFile: initrd, // the test overlay, if any, under the released name
		image.IPXEFile:      filepath.Join(img.Dir, image.IPXEFile),
	} {
		if err := copyFile(filepath.Join(dir, dst), src); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	script := fmt.Sprintf("#!ipxe\nset lethe-base http://10.0.2.2:%d\nset lethe-args %s\nchain tftp://10.0.2.2/%s\n", port, cmdline, image.IPXEFile)
	if err := os.WriteFile(filepath.Join(dir, "test.ipxe"), []byte(script), 0o644); err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

func readResults(res *Result, steps []Step) error {
	data, err := os.ReadFile(filepath.Join(res.Share, guestproto.ResultsFile))
	if err != nil {
		return fmt.Errorf("guest runner left no results: %w", err)
	}
	var gr guestproto.Results
	if err := json.Unmarshal(data, &gr); err != nil {
		return fmt.Errorf("guest results: %w", err)
	}
	if gr.Error != "" {
		return fmt.Errorf("guest runner: %s", gr.Error)
	}
	res.UptimeStart, res.UptimeReady = gr.UptimeStart, gr.UptimeReady
	byName := map[string]guestproto.StepResult{}
	for _, s := range gr.Steps {
		byName[s.Name] = s
	}
	for _, s := range steps {
		g, ok := byName[s.Name]
		sr := StepResult{Name: s.Name, Ran: ok && g.Ran, ExitCode: g.ExitCode, Error: g.Error}
		if sr.Ran {
			sr.Took = time.Duration((g.UptimeEnd - g.UptimeStart) * float64(time.Second))
			sr.Start, sr.End = g.UptimeStart, g.UptimeEnd
			out, _ := os.ReadFile(filepath.Join(res.Out, s.Name+".stdout"))
			errOut, _ := os.ReadFile(filepath.Join(res.Out, s.Name+".stderr"))
			sr.Stdout, sr.Stderr = string(out), string(errOut)
		}
		res.Steps = append(res.Steps, sr)
	}
	return nil
}

// Step returns the result of the named step (a zero StepResult with Ran
// false if it did not run).
func (r *Result) Step(name string) StepResult {
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	return StepResult{Name: name}
}

// RequireOK fails the test unless every step ran and exited 0, showing
// the failing step's output.
func (r *Result) RequireOK(t testing.TB) {
	t.Helper()
	for _, s := range r.Steps {
		if !s.Ran || s.ExitCode != 0 || s.Error != "" {
			t.Logf("guest console (%s), last lines:\n%s", r.ConsoleFile, tail(r.Console, 60))
			t.Fatalf("guest step %s: ran=%v exit=%d %s\nstdout:\n%s\nstderr:\n%s", s.Name, s.Ran, s.ExitCode, s.Error, s.Stdout, s.Stderr)
		}
	}
}

// ReadFile returns a file the guest wrote to $OUT (path relative to it).
func (r *Result) ReadFile(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.Out, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatalf("guest output: %v", err)
	}
	return data
}

// console collects QEMU's output into the log file and memory, and
// notices the runner's end marker.
type console struct {
	mu     sync.Mutex
	log    io.Writer
	buf    strings.Builder
	line   []byte
	end    bool
	onEnd  func()
	onLine func(string)
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log.Write(p)
	c.buf.Write(p)
	c.line = append(c.line, p...)
	for {
		i := strings.IndexByte(string(c.line), '\n')
		if i < 0 {
			break
		}
		if c.onLine != nil {
			c.onLine(strings.TrimRight(string(c.line[:i]), "\r"))
		}
		if strings.HasPrefix(strings.TrimLeft(string(c.line[:i]), "\r"), guestproto.EndMarker) && !c.end {
			c.end = true
			if c.onEnd != nil {
				c.onEnd()
			}
		}
		c.line = c.line[i+1:]
	}
	return len(p), nil
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *console) ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// keep copies the console log and the share to $LETHE_QEMU_KEEP/TESTNAME
// when that variable is set, for looking at a guest after the test (CI
// can archive the directory).
func keep(t testing.TB, res *Result) {
	dir := os.Getenv("LETHE_QEMU_KEEP")
	if dir == "" {
		return
	}
	dst := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Logf("LETHE_QEMU_KEEP: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dst, "console.log"), []byte(res.Console), 0o644); err != nil {
		t.Logf("LETHE_QEMU_KEEP: %v", err)
	}
	// A test that boots several guests keeps the last one's share.
	os.RemoveAll(filepath.Join(dst, "share"))
	if err := os.CopyFS(filepath.Join(dst, "share"), os.DirFS(res.Share)); err != nil {
		t.Logf("LETHE_QEMU_KEEP: %v", err)
	}
	t.Logf("guest console and share kept in %s", dst)
}
