package receipt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadStrictAndBounded: a receipt with two log indexes, or a key that
// differs from a field only in case, could be read differently by two
// tools; one larger than any receipt is refused before it is read.
func TestLoadStrictAndBounded(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	if _, err := Load(write("ok.json", `{"version":1,"logIndex":7}`)); err != nil {
		t.Fatalf("a plain receipt: %v", err)
	}
	for name, tc := range map[string]struct{ content, want string }{
		"dup":     {`{"version":1,"logIndex":7,"logIndex":8}`, `duplicate key "logIndex"`},
		"case":    {`{"version":1,"logIndex":7,"LogIndex":8}`, `differ only in case`},
		"unknown": {`{"version":1,"logindex2":8}`, `unknown field`},
	} {
		if _, err := Load(write(name, tc.content)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	big := write("big.json", "{")
	os.Truncate(big, MaxBytes+1)
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("oversized receipt: %v", err)
	}
}
