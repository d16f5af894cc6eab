package golden

import (
	"os"
	"path/filepath"
	"runtime"
)

// QEMU returns a raw page captured from QEMU's emulated disks
// (devices/testdata/qemu/NAME.bin).
func QEMU(name string) ([]byte, error) {
	_, me, _, _ := runtime.Caller(0)
	return os.ReadFile(filepath.Join(filepath.Dir(me), "..", "..", "testdata", "qemu", name+".bin"))
}
