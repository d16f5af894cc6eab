// Package golden reads internal/devices/testdata/golden: the command bytes
// hdparm, sg3_utils and nvme-cli send (tools.txt, captured by
// internal/devices/testdata/capture/capture.sh) and bytes derived from the
// specs where no tool can send a command (spec.txt).
package golden

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Entry is one captured command.
type Entry struct {
	Name   string
	Origin string // "tool: <command line>" or "source: <spec reference>"
	Kind   string // "sgio" or "nvme"
	Fields map[string]string
}

// Hex returns a hex field decoded ("" -> empty).
func (e Entry) Hex(k string) []byte {
	b, err := hex.DecodeString(e.Fields[k])
	if err != nil {
		panic(fmt.Sprintf("golden %s: field %s: %v", e.Name, k, err))
	}
	return b
}

// Uint returns a hex number field.
func (e Entry) Uint(k string) uint64 {
	v, err := strconv.ParseUint(e.Fields[k], 16, 64)
	if err != nil {
		panic(fmt.Sprintf("golden %s: field %s: %v", e.Name, k, err))
	}
	return v
}

// Dir returns the data direction of an sgio entry.
func (e Entry) Dir() string { return e.Fields["dir"] }

// Load reads tools.txt and spec.txt.
func Load() (map[string]Entry, error) {
	_, me, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(me), "..", "..", "testdata", "golden")
	all := map[string]Entry{}
	for _, f := range []string{"tools.txt", "spec.txt"} {
		if err := parse(filepath.Join(dir, f), all); err != nil {
			return nil, err
		}
	}
	return all, nil
}

func parse(path string, into map[string]Entry) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var cur *Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			name := line[1 : len(line)-1]
			if _, dup := into[name]; dup {
				return fmt.Errorf("%s: duplicate entry %s", path, name)
			}
			cur = &Entry{Name: name, Fields: map[string]string{}}
			into[name] = *cur
		case cur == nil:
			return fmt.Errorf("%s: line outside an entry: %q", path, line)
		case strings.HasPrefix(line, "tool:") || strings.HasPrefix(line, "source:"):
			cur.Origin = line
			into[cur.Name] = *cur
		case strings.HasPrefix(line, "sgio ") || strings.HasPrefix(line, "nvme "):
			words := strings.Fields(line)
			cur.Kind = words[0]
			for _, w := range words[1:] {
				k, v, _ := strings.Cut(w, "=")
				cur.Fields[k] = v
			}
			into[cur.Name] = *cur
		default:
			return fmt.Errorf("%s: unexpected line %q", path, line)
		}
	}
	return sc.Err()
}
