package nvme

import (
	"testing"
	"unsafe"
)

// passthruCmd must match struct nvme_passthru_cmd byte for byte.
func TestPassthruLayout(t *testing.T) {
	var p passthruCmd
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(p), 72},
		{"nsid", unsafe.Offsetof(p.NSID), 4},
		{"metadata", unsafe.Offsetof(p.Metadata), 16},
		{"addr", unsafe.Offsetof(p.Addr), 24},
		{"data_len", unsafe.Offsetof(p.DataLen), 36},
		{"cdw10", unsafe.Offsetof(p.CDW10), 40},
		{"cdw15", unsafe.Offsetof(p.CDW15), 60},
		{"timeout_ms", unsafe.Offsetof(p.TimeoutMs), 64},
		{"result", unsafe.Offsetof(p.Result), 68},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
}
