package ata

import (
	"context"
	"testing"

	"github.com/lethe-project/lethe/internal/devices/scsi"
)

func FuzzParseATAIdentify(f *testing.F) {
	f.Add(identifyPage())
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseIdentify(b)
		if id == nil {
			if err == nil {
				t.Fatal("nil Identify without an error")
			}
			return
		}
		_ = id.Security.State()
		_ = id.SecurityEraseTimeout(true)
		for op := OpSetPassword; op <= OpEraseEnhanced; op++ {
			_ = SecurityCheck(id, op)
		}
		_, _ = ParseDCO(b)
	})
}

// FuzzExecSense feeds arbitrary sense data to Device.Exec, as a broken SATL
// might: it must return an error or registers, never panic.
func FuzzExecSense(f *testing.F) {
	f.Add(scsi.SenseBuilder{Key: scsi.KeyRecoveredError, ASC: scsi.ASCATAPassThroughInfo, ATA: &scsi.ATAReturn{Status: 0x50}}.Descriptor())
	f.Add(scsi.SenseBuilder{Key: scsi.KeyAbortedCommand, ATA: &scsi.ATAReturn{Status: 0x51, Error: 4}}.Fixed())
	f.Fuzz(func(t *testing.T, sense []byte) {
		dev := New(fakeSATL{&scsi.Result{Status: scsi.StatusCheckCondition, Sense: sense}})
		_, _ = dev.SanitizeStatus(context.Background(), false)
		_, _ = dev.ReadNativeMaxAddress(context.Background())
	})
}
