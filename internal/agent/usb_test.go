package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A fake /sys/bus/usb/devices: a stick (interface 1-1:1.0, class 08) and
// a keyboard (1-2:1.0, class 03).
func TestSettleUSB(t *testing.T) {
	root := t.TempDir()
	dev := filepath.Join(root, "bus", "usb", "devices")
	for _, d := range []string{"usb1", "1-1", "1-1:1.0", "1-2", "1-2:1.0"} {
		os.MkdirAll(filepath.Join(dev, d), 0o755)
	}
	os.WriteFile(filepath.Join(dev, "1-1:1.0", "bInterfaceClass"), []byte("08\n"), 0o644)
	os.WriteFile(filepath.Join(dev, "1-2:1.0", "bInterfaceClass"), []byte("03\n"), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := SettleUSB(ctx, root, 10*time.Millisecond)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "1-1:1.0") {
		t.Fatalf("stick without a disk: %v", err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.MkdirAll(filepath.Join(dev, "1-1:1.0", "host6", "target6:0:0", "6:0:0:0", "block", "sdc"), 0o755)
	}()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := SettleUSB(ctx, root, 10*time.Millisecond); err != nil {
		t.Fatalf("after the disk appeared: %v", err)
	}
	if err := SettleUSB(ctx, t.TempDir(), time.Hour); err != nil {
		t.Fatalf("no USB at all: %v", err)
	}
}
