package agent

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata/")

func header() []string {
	return []string{
		"lethe agent 1.4.0  image sha256:3f2a9c1d0e7b  up 42.1s",
		"host QEMU Standard PC (Q35)  serial SRV-0042  asset A-77  TPM 9a8b7c6d5e4f",
		"job J42  site dc1  operator Jane Doe  policy purge  verify last",
	}
}

func views() map[string]View {
	running := View{
		Header: header(),
		Drives: []DriveView{
			{Name: "nvme0n1", Serial: "LETHENVME0001", Size: "96.0 MiB", Method: "overwrite", Phase: "write", Done: 0.42},
			{Name: "sda", Serial: "LETHESATA0001", Size: "80.0 MiB", Method: "overwrite", Phase: "verify", Done: 0.999},
			{Name: "sdb", Serial: "LETHEUSB0001", Size: "32.0 MiB", Result: "KEPT", Note: "boot medium (LETHE-BOOT)"},
			{Name: "sdc", Serial: "LETHESCSI0001", Size: "72.0 MiB", Method: "overwrite", Result: "ERASED", Cert: "signed"},
			{Name: "vda", Serial: "A-SERIAL-THAT-IS-LONGER-THAN-20", Size: "1.8 TiB", Result: "KEPT", Note: "lethe.exclude=A-SERIAL"},
		},
		Status: []string{
			"certificates: 1 signed, 0 received by the audit store",
			"audit https://10.0.2.2:8443: unreachable (connection refused), retry in 8s",
			"network eth0 10.0.2.15/24",
		},
		Events: []string{"   3.1s modules: 52 loaded", "   4.0s 5 disks: 3 to wipe, 1 boot medium kept, 1 excluded", "   4.2s first write"},
	}
	pass := running
	pass.Drives = []DriveView{
		{Name: "nvme0n1", Serial: "LETHENVME0001", Size: "96.0 MiB", Method: "overwrite", Result: "ERASED", Cert: "sent"},
		{Name: "sda", Serial: "LETHESATA0001", Size: "80.0 MiB", Method: "overwrite", Result: "ERASED", Cert: "sent"},
		{Name: "sdb", Serial: "LETHEUSB0001", Size: "32.0 MiB", Result: "KEPT", Note: "boot medium"},
	}
	pass.Final = &Final{Pass: true}
	pass.Status = []string{"2 of 2 drives ERASED and verified; 1 kept", "certificates: 2 of 2 received by the audit store (receipts verified)", "powering off"}
	fail := pass
	fail.Drives = append([]DriveView(nil), pass.Drives...)
	fail.Drives[1] = DriveView{Name: "sda", Serial: "LETHESATA0001", Size: "80.0 MiB", Method: "overwrite", Result: "FAILED", Note: "I/O errors", Cert: "UNSENT"}
	fail.Final = &Final{Pass: false}
	fail.Status = []string{"1 of 2 drives FAILED: send sda (LETHESATA0001) to destruction", "! 1 CERTIFICATE NOT YET RECEIVED by the audit store: kept in RAM only",
		"! (/run/lethe/spool); retrying every 30s - do not power off"}
	many := running
	many.Drives = nil
	for i := range 30 {
		d := DriveView{Name: fmt.Sprintf("sd%c", 'a'+i%26), Serial: fmt.Sprintf("SER%04d", i), Size: "3.6 TiB", Method: "sas-crypto", Result: "ERASED", Cert: "sent"}
		switch i {
		case 7:
			d.Result, d.Phase, d.Done = "", "verify", 0.5
		case 19:
			d.Result, d.Note = "FAILED", "medium error"
		}
		many.Drives = append(many.Drives, d)
	}
	refused := running
	refused.Drives = []DriveView{
		{Name: "nvme0n1", Serial: "LETHENVME0001", Size: "96.0 MiB", Method: "nvme-format-user-data", Phase: "format", Done: 0.1},
		{Name: "sda", Serial: "LETHESATA0001", Size: "80.0 MiB", Result: "REFUSED", Note: "is mounted: /srv (ext4) by a process lethe does not know"},
	}
	refused.Status = []string{"! 2 CERTIFICATE(S) NOT DELIVERED to the audit store; printed above; in RAM only (/run/lethe/spool) - do not power off",
		"per-boot key sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	hold := pass
	hold.Drives = []DriveView{
		{Name: "nvme0n1", Serial: "LETHENVME0001", Size: "96.0 MiB", Method: "overwrite", Result: "ERASED", Cert: "UNSENT"},
		{Name: "sda", Serial: "LETHESATA0001", Size: "80.0 MiB", Method: "overwrite", Result: "ERASED", Cert: "UNSENT"},
	}
	hold.Final = &Final{Pass: true, Undelivered: true}
	hold.Status = []string{"HOLD: 2 drive(s) ERASED and verified, but 2 certificate(s) NOT DELIVERED",
		"! delivery cannot succeed (enrollment token expired). DO NOT POWER OFF: the certificates are in RAM only (/run/lethe/spool) and printed above; fix the store or token, then lethe audit flush --spool /run/lethe/spool",
		"staying on: the rescue shell follows (certificates in /run/lethe)"}
	return map[string]View{"running": running, "pass": pass, "fail": fail, "many": many, "refused": refused, "hold": hold}
}

func TestRenderGolden(t *testing.T) {
	for name, v := range views() {
		lines := Render(v, Width, Height)
		for i, l := range lines {
			if len(l) > Width {
				t.Errorf("%s: line %d is %d wide: %q", name, i, len(l), l)
			}
			for _, r := range l {
				if r < 0x20 || r > 0x7e {
					t.Errorf("%s: line %d has %q", name, i, r)
				}
			}
		}
		if len(lines) > Height {
			t.Errorf("%s: %d lines", name, len(lines))
		}
		got := strings.Join(lines, "\n") + "\n"
		path := filepath.Join("testdata", "screen-"+name+".txt")
		if *update {
			os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create)", err)
		}
		if got != string(want) {
			t.Errorf("%s: screen differs from %s (go test -update rewrites it):\n%s", name, path, got)
		}
	}
}

// TestRenderKeepsKeyFacts: no status line, note, method or serial is cut
// short on the 80-column screen; what does not fit wraps.
func TestRenderKeepsKeyFacts(t *testing.T) {
	for name, v := range views() {
		screen := strings.Join(Render(v, Width, Height), " ")
		flat := strings.Join(strings.Fields(screen), " ")
		var facts []string
		facts = append(facts, v.Status...)
		for _, d := range v.Drives {
			if len(v.Drives) < 10 {
				facts = append(facts, d.Serial, d.Method, d.Note)
			}
		}
		for _, f := range facts {
			if !strings.Contains(flat, strings.Join(strings.Fields(f), " ")) {
				t.Errorf("%s: %q is not on the screen whole:\n%s", name, f, strings.Join(Render(v, Width, Height), "\n"))
			}
		}
	}
}

func TestRenderKeepsAttention(t *testing.T) {
	lines := strings.Join(Render(views()["many"], Width, Height), "\n")
	for _, want := range []string{"SER0007", "SER0019", "FAILED", "more drive(s): 28 ERASED"} {
		if !strings.Contains(lines, want) {
			t.Errorf("30-drive screen lacks %q:\n%s", want, lines)
		}
	}
}

func TestBanner(t *testing.T) {
	for _, pass := range []bool{true, false} {
		b := Banner(pass, Width)
		if len(b) != 5 {
			t.Fatalf("banner has %d lines", len(b))
		}
		for _, l := range b {
			if len(l) > Width || !strings.Contains(l, "##") {
				t.Errorf("banner line %q", l)
			}
		}
	}
}

func TestConsoleDraw(t *testing.T) {
	var buf bytes.Buffer
	c := NewConsole(&buf)
	c.Draw([]string{"a", "b"})
	c.Draw([]string{"a", "b"})                   // identical frame: skipped
	c.Event("first write to %s", "/dev/nvme0n1") // fixture: never opened
	c.Draw([]string{"a", "b"})                   // after an event the frame is drawn again
	out := buf.String()
	if strings.Count(out, "\x1b[H\x1b[2J") != 2 || !strings.Contains(out, "lethe: first write to /dev/nvme0n1\r\n") { // fixture: never opened
		t.Errorf("console output %q", out)
	}
	if ev := c.Events(); len(ev) != 1 || !strings.HasSuffix(ev[0], "first write to /dev/nvme0n1") { // fixture: never opened
		t.Errorf("events %q", ev)
	}
}

// TestConsoleRedrawsOnlyChanges: after the first frame only changed lines
// are written; a screen that ticks one line costs that line, not a
// screenful, and a frame that did not change costs nothing.
func TestConsoleRedrawsOnlyChanges(t *testing.T) {
	var buf bytes.Buffer
	c := NewConsole(&buf)
	v := views()["running"]
	frame := Render(v, Width, Height)
	c.Draw(frame)
	first := buf.Len()
	buf.Reset()
	for range 100 {
		c.Draw(Render(v, Width, Height))
	}
	if buf.Len() != 0 {
		t.Errorf("100 unchanged frames wrote %d bytes", buf.Len())
	}
	v.Drives = append([]DriveView(nil), v.Drives...)
	v.Drives[0].Done = 0.43
	c.Draw(Render(v, Width, Height))
	got := buf.String()
	if !strings.Contains(got, "\x1b[6;1H") || !strings.Contains(got, "43%") || strings.Contains(got, "LETHESATA0001") || len(got) > 120 {
		t.Errorf("one changed row wrote %d bytes (first frame %d): %q", len(got), first, got)
	}
	// A shorter frame clears what is left below it.
	buf.Reset()
	c.Draw(frame[:10])
	if !strings.Contains(buf.String(), "\x1b[11;1H\x1b[J") {
		t.Errorf("shorter frame: %q", buf.String())
	}
}
