package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// errorLooking matches what reads like a problem in a log: klog's E/W
// prefixes, and the words.
var errorLooking = regexp.MustCompile(`(?i)(^[EW]\d{4} |error|fail|warn|does not exist|panic)`)

// TestFirstStartIsClean: a normal first start of lethe audit serve prints
// nothing that reads like an error (Tessera's "Failed to fetch old
// checkpoint: file does not exist" among them), and says where the web UI
// is.
func TestFirstStartIsClean(t *testing.T) {
	s := startServer(t, t.TempDir())
	time.Sleep(500 * time.Millisecond) // let the first checkpoint publish
	s.stop(t)
	out := s.stderr()
	for _, line := range strings.Split(out, "\n") {
		if errorLooking.MatchString(line) {
			t.Errorf("error-looking line on a normal first start: %s", line)
		}
	}
	if !strings.Contains(out, "first admin") {
		t.Errorf("the first start does not say where the admin's credentials are:\n%s", out)
	}
}
