package golden

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/lethe-project/lethe/internal/testutil"
)

// The committed tool captures must be what the tools really send: re-run
// the capture (no device is touched: the shim answers the ioctls) and
// compare.
func TestCaptureReproducible(t *testing.T) {
	for _, c := range []string{"gcc", "hdparm", "sg_inq", "sg_sanitize", "sg_format", "sg_opcodes", "sg_modes", "sdparm", "nvme"} {
		testutil.RequireCommand(t, c)
	}
	_, me, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(me), "..", "..", "testdata")
	out := filepath.Join(t.TempDir(), "tools.txt")
	cmd := exec.Command("bash", filepath.Join(dir, "capture", "capture.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("capture.sh: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "golden", "tools.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("a fresh capture differs from testdata/golden/tools.txt (tool versions changed?); diff %s against it", out)
	}
	entries, err := Load()
	if err != nil || len(entries) < 55 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
}
