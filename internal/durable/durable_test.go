package durable

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, content := range []string{"one", "two, longer"} {
		if err := WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q %v, want %q", got, err, content)
		}
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestWriteNewRefusesToReplace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lethe.key")
	if err := WriteNew(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(p, []byte("other"), 0o600); err == nil {
		t.Fatal("WriteNew replaced an existing file")
	}
	if got, _ := os.ReadFile(p); string(got) != "secret" {
		t.Fatalf("content %q changed", got)
	}
}

func TestRenameAndRemove(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sent"), 0o755)
	from, to := filepath.Join(dir, "a.json"), filepath.Join(dir, "sent", "a.json")
	if err := WriteFile(from, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Rename(from, to); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(to); err != nil {
		t.Fatal(err)
	}
	if err := Remove(to); err != nil {
		t.Fatal(err)
	}
	if err := Remove(to); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
}
