package probe

import (
	"errors"
	"os"
	"testing"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/scsi"
	"github.com/lethe-project/lethe/internal/testutil"
)

// The real ioctl transports against a scratch loop device: a loop device
// accepts neither SG_IO nor the NVMe ioctls, so each must come back as a
// clean *os.SyscallError (not a panic, not a fake success), and probe must
// classify the loop device as having no pass-through.
func TestRealIoctlsOnLoop(t *testing.T) {
	l := testutil.NewLoop(t, 8<<20, testutil.LoopOptions{})

	sg, err := scsi.OpenSGIO(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer sg.Close()
	_, err = scsi.Inquiry(ctx, sg)
	var se *os.SyscallError
	if !errors.As(err, &se) {
		t.Fatalf("SG_IO on a loop device: %v, want a syscall error", err)
	}

	nv, err := nvme.OpenIoctl(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer nv.Close()
	if _, err := nvme.IdentifyController(ctx, nv); !errors.As(err, &se) {
		t.Fatalf("NVMe admin ioctl on a loop device: %v, want a syscall error", err)
	}
	if _, err := nv.NamespaceID(); !errors.As(err, &se) {
		t.Fatalf("NVME_IOCTL_ID on a loop device: %v", err)
	}

	d, err := devices.Host.Describe(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	var ue *UnsupportedError
	if _, err := Device(ctx, d); !errors.As(err, &ue) {
		t.Fatalf("probe of a loop device: %v", err)
	}
}
