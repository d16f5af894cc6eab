package cert

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Schema versions. SchemaVersion is what this code writes; a reader
// accepts every version in KnownVersions and refuses others (see
// docs/certificate.md, "Versions").
const SchemaVersion = "2"

// KnownVersions are the schema versions this code reads, oldest first.
var KnownVersions = []string{"1", "2"}

// MaxPayloadBytes bounds a statement a reader accepts; certificates are a
// few kilobytes, the largest (a firmware erase with every observation) a
// few tens.
const MaxPayloadBytes = 1 << 20

// VersionError is a certificate of a schema version this code does not
// know.
type VersionError struct{ Version string }

func (e *VersionError) Error() string {
	newest := KnownVersions[len(KnownVersions)-1]
	if v, err := strconv.Atoi(e.Version); err == nil {
		if n, _ := strconv.Atoi(newest); v > n {
			return fmt.Sprintf("schema version %q is newer than this lethe reads (up to %q): upgrade lethe to read it", e.Version, newest)
		}
	}
	return fmt.Sprintf("schema version %q is not a version lethe knows (%v)", e.Version, KnownVersions)
}

// Parse decodes a statement payload strictly (UnmarshalStrict): no
// duplicate or case-variant keys, no unknown fields, valid UTF-8, at most
// MaxPayloadBytes. It checks the schema version before the fields, so that
// a certificate from a newer lethe is reported as such. It does not
// validate the content: call Validate.
func Parse(payload []byte) (*Statement, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, fmt.Errorf("statement is %d bytes, more than the %d a certificate may have", len(payload), MaxPayloadBytes)
	}
	tree, err := parseStrict(payload)
	if err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	pred, _ := tree.get("predicate")
	if ver, ok := pred.get("schemaVersion"); ok && ver.kind == kindString && !slices.Contains(KnownVersions, ver.text) {
		return nil, &VersionError{ver.text}
	}
	var st Statement
	if err := UnmarshalStrict(payload, &st); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	var raw struct {
		Predicate struct {
			Identity json.RawMessage `json:"identity"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	st.rawIdentity = raw.Predicate.Identity
	return &st, nil
}

// Marshal serializes a statement as it is signed (compact JSON).
func Marshal(st *Statement) ([]byte, error) {
	if st == nil {
		return nil, errors.New("marshal certificate: no statement")
	}
	return json.Marshal(st)
}

// get returns an object member by exact key.
func (v value) get(key string) (value, bool) {
	if v.kind != kindObject {
		return value{}, false
	}
	for _, m := range v.members {
		if m.key == key {
			return m.val, true
		}
	}
	return value{}, false
}
