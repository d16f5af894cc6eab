package scsi

import (
	"testing"
	"unsafe"
)

// The header must match struct sg_io_hdr (include/scsi/sg.h) byte for byte.
func TestSGIOHdrLayout(t *testing.T) {
	var h sgIOHdr
	if unsafe.Sizeof(uintptr(0)) != 8 {
		return // the offsets below are those of 64-bit Linux
	}
	for _, c := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"size", unsafe.Sizeof(h), 88},
		{"dxfer_len", unsafe.Offsetof(h.DxferLen), 12},
		{"dxferp", unsafe.Offsetof(h.Dxferp), 16},
		{"cmdp", unsafe.Offsetof(h.Cmdp), 24},
		{"sbp", unsafe.Offsetof(h.Sbp), 32},
		{"timeout", unsafe.Offsetof(h.Timeout), 40},
		{"usr_ptr", unsafe.Offsetof(h.UsrPtr), 56},
		{"status", unsafe.Offsetof(h.Status), 64},
		{"host_status", unsafe.Offsetof(h.HostStatus), 68},
		{"resid", unsafe.Offsetof(h.Resid), 72},
		{"info", unsafe.Offsetof(h.Info), 80},
	} {
		if c.got != c.want {
			t.Errorf("%s: offset/size %d, want %d", c.name, c.got, c.want)
		}
	}
}
