package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/qemutest"
	"github.com/lethe-project/lethe/sign"
)

// TestStationHotplugQEMU runs `lethe station` inside a QEMU guest and
// hot-plugs disks into it through QMP while it runs: an NVMe drive and a
// virtio-blk drive are added (device_add), wiped and removed (device_del)
// after their certificates were written; a third (NVMe, larger) is removed
// while it is being wiped and must get an ABORTED certificate. An NVMe
// drive present when the station starts must not be touched. One guest
// boot; bounded by a 6-minute timeout.
func TestStationHotplugQEMU(t *testing.T) {
	qemutest.Require(t)
	img := qemutest.GetImage(t)
	s := newStation(t)
	key, err := os.ReadFile(s.key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	present := diskFile(t, dir, "present.img", 32<<20)
	presentSum := fileSum(t, present)
	hot := []string{diskFile(t, dir, "hot-nvme.img", 32<<20), diskFile(t, dir, "hot-virtio.img", 32<<20), diskFile(t, dir, "hot-pull.img", 1<<30)}
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	cfg := "key: /mnt/lethe/in/lethe.key\ncert-dir: /mnt/lethe/out/certs\noperator: QEMU Tech\norganization: Test Org\nverify: last\n"

	// The plan, driven by what the station prints: each step waits for a
	// line, then acts on the machine.
	type action struct {
		wait string
		do   func(q *qemutest.QMP) error
	}
	add := func(driver, id, port, drive, serial string) func(q *qemutest.QMP) error {
		return func(q *qemutest.QMP) error {
			return q.DeviceAdd(map[string]any{"driver": driver, "id": id, "bus": port, "drive": drive, "serial": serial})
		}
	}
	del := func(id string) func(q *qemutest.QMP) error {
		return func(q *qemutest.QMP) error { return q.DeviceDel(id) }
	}
	plan := []action{
		{"station ready", add("nvme", "n1", "hp0", "hpd0", "HOTNVME0001")},
		{"ERASED - REMOVE DRIVE", del("n1")},
		{"nvme1n1 removed", add("virtio-blk-pci", "v1", "hp1", "hpd1", "HOTVIRT0001")},
		{"ERASED - REMOVE DRIVE", del("v1")},
		{"vda removed", add("nvme", "n2", "hp2", "hpd2", "HOTNVME0002")},
		{"overwrite 1", del("n2")}, // pulled while it writes
	}
	var mu sync.Mutex
	var q *qemutest.QMP
	var failures []string
	step := 0
	started := false
	// Each action runs once its line has appeared after the previous action.
	var seen strings.Builder
	run := func() {
		mu.Lock()
		defer mu.Unlock()
		for step < len(plan) && strings.Contains(seen.String(), plan[step].wait) {
			a := plan[step]
			step++
			seen.Reset()
			if q == nil {
				var err error
				if q, err = qemutest.DialQMP(sock, 10*time.Second); err != nil {
					failures = append(failures, err.Error())
					return
				}
			}
			if err := a.do(q); err != nil {
				failures = append(failures, err.Error())
			}
		}
	}
	res := qemutest.Boot(t, img, qemutest.Options{
		Disks:     []qemutest.Disk{{Kind: qemutest.NVMe, Serial: "PRESENT0001", File: present}},
		QEMUArgs:  qemutest.HotplugPorts(3, hot...),
		QMPSocket: sock,
		Memory:    "1G",
		Timeout:   6 * time.Minute,
		Files:     map[string][]byte{"in/lethe.key": key, "in/lethe.yaml": []byte(cfg)},
		OnConsole: func(line string) {
			if !strings.Contains(line, "lethe station") {
				return
			}
			mu.Lock()
			started = true
			seen.WriteString(line + "\n")
			mu.Unlock()
			go run()
		},
	},
		qemutest.Step{Name: "modules", Script: "lethe modules load > /dev/null"},
		qemutest.Step{Name: "station", Timeout: 4 * time.Minute,
			Script: "lethe station --config /mnt/lethe/in/lethe.yaml --screen lines --yes --count 3 --method zero --state-dir /tmp/lethe-state"},
	)
	if q != nil {
		q.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	res.RequireOK(t)
	if !started || step != len(plan) || len(failures) > 0 {
		t.Fatalf("hot-plug plan reached step %d of %d, failures %v; station output:\n%s", step, len(plan), failures, res.Step("station").Stdout)
	}
	out := res.Step("station").Stdout
	if strings.Contains(out, "lethe: stopping") {
		t.Errorf("stopping message without an interrupt:\n%s", out)
	}
	pub, err := sign.LoadPublicKey(s.pub)
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := filepath.Glob(filepath.Join(res.Out, "certs", "*.cert.json"))
	got := map[string]string{}
	for _, c := range certs {
		v, err := attest.ReadFile(c, pub)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		p := v.Statement.Predicate
		got[p.Media.Serial] = string(p.Status)
		if p.Media.Serial == "HOTNVME0002" && !strings.Contains(p.StatusReason, "removed") {
			t.Errorf("pulled drive's reason: %s", p.StatusReason)
		}
		if _, err := os.Stat(strings.TrimSuffix(c, ".cert.json") + ".pdf"); err != nil {
			t.Errorf("no PDF beside %s", c)
		}
	}
	want := map[string]string{"HOTNVME0001": "ERASED", "HOTVIRT0001": "ERASED", "HOTNVME0002": "ABORTED"}
	for serial, status := range want {
		if got[serial] != status {
			t.Errorf("%s: %q, want %s (all: %v)\n%s", serial, got[serial], status, got, out)
		}
	}
	if _, ok := got["PRESENT0001"]; ok || fileSum(t, present) != presentSum {
		t.Errorf("the drive present at start was touched")
	}
	for _, f := range hot[:2] {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, marker) {
			t.Errorf("%s still holds customer data", f)
		}
	}
}
