package server

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets the conformance scenarios run side by side even on two
// cores: on MySQL they wait on checkpoints (published once a second) far
// more than they compute.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.parallel"); f != nil && f.Value.String() == f.DefValue {
		_ = f.Value.Set("8")
	}
	os.Exit(m.Run())
}
