package atasim

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/lethe-project/lethe/internal/devices/ata"
)

var ctx = context.Background()

func fill(t *testing.T, d *Drive) []byte {
	t.Helper()
	n := d.Disk().Size()
	b := bytes.Repeat([]byte("old ATA data.. "), int(n)/15+1)[:n]
	if _, err := d.Disk().WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func rawAll(d *Drive) []byte {
	b := make([]byte, d.Disk().Size())
	_, _ = d.Disk().RawReadAt(b, 0)
	return b
}

func identify(t *testing.T, dev *ata.Device) *ata.Identify {
	t.Helper()
	id, err := dev.Identify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestIdentify(t *testing.T) {
	d := MustNew(Config{Model: "SIM SSD 1", Serial: "S123", Firmware: "FW9", Sanitize: true, Antifreeze: true,
		EnhancedErase: true, EraseTime: 10, EnhancedEraseTime: 0x8000 | 300, WWN: 0x5000c500a1b2c3d4, TRIM: true})
	id := identify(t, ata.New(d))
	if id.Model != "SIM SSD 1" || id.Serial != "S123" || id.Firmware != "FW9" {
		t.Errorf("strings %q %q %q", id.Model, id.Serial, id.Firmware)
	}
	if id.Sectors != 32768 || !id.LBA48 || id.LogicalSectorSize != 512 || id.Checksum != ata.ChecksumValid {
		t.Errorf("geometry %+v", id)
	}
	if !id.Sanitize.Supported || !id.Sanitize.Crypto || !id.Sanitize.BlockErase || !id.Sanitize.Overwrite || !id.Sanitize.AntifreezeLock {
		t.Errorf("sanitize caps %+v", id.Sanitize)
	}
	s := id.Security
	if !s.Supported || s.Enabled || s.Locked || s.Frozen || !s.EnhancedErase || s.EraseTime.Minutes() != 20 || s.EnhancedEraseTime.Minutes() != 600 {
		t.Errorf("security %+v", s)
	}
	if id.WWN != 0x5000c500a1b2c3d4 || id.RotationRate != 1 || !id.TRIM || !id.HPASupported || !id.DCOSupported {
		t.Errorf("wwn %x rot %d trim %v", id.WWN, id.RotationRate, id.TRIM)
	}
	if got := id.SecurityEraseTimeout(true).Hours(); got != 20 {
		t.Errorf("enhanced erase timeout %v h, want 20 (2 x 600 min)", got)
	}
	if s.State() != "SEC1 (disabled, not frozen)" {
		t.Errorf("state %s", s.State())
	}
}

func TestSecurityEraseNormal(t *testing.T) {
	d := MustNew(Config{EraseTime: 1})
	dev := ata.New(d)
	before := fill(t, d)
	pw, _ := ata.NewPassword("lethe-tmp")
	if err := dev.SecurityEraseUnit(ctx, pw, false, 0); !ata.IsAborted(err) {
		t.Fatalf("erase without password set and prepare: %v", err)
	}
	if err := ata.SecurityCheck(identify(t, dev), ata.OpErase); !errors.Is(err, ata.ErrNotEnabled) {
		t.Fatalf("SecurityCheck in SEC1: %v", err)
	}
	if err := dev.SecuritySetPassword(ctx, pw); err != nil {
		t.Fatal(err)
	}
	id := identify(t, dev)
	if !id.Security.Enabled || id.Security.Locked {
		t.Fatalf("after SET PASSWORD: %s", id.Security.State())
	}
	// ERASE UNIT must follow ERASE PREPARE immediately.
	if err := dev.SecurityErasePrepare(ctx); err != nil {
		t.Fatal(err)
	}
	identify(t, dev)
	if err := dev.SecurityEraseUnit(ctx, pw, false, id.SecurityEraseTimeout(false)); !ata.IsAborted(err) {
		t.Fatalf("erase not immediately after prepare: %v", err)
	}
	if err := dev.SecurityErasePrepare(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dev.SecurityEraseUnit(ctx, pw, false, id.SecurityEraseTimeout(false)); err != nil {
		t.Fatal(err)
	}
	if r := rawAll(d); bytes.Equal(r, before) || len(bytes.Trim(r, "\x00")) != 0 {
		t.Fatal("normal erase did not zero the medium")
	}
	if id := identify(t, dev); id.Security.Enabled {
		t.Fatal("password left behind after erase")
	}
}

func TestEnhancedEraseWithMasterAtMaximum(t *testing.T) {
	d := MustNew(Config{EnhancedErase: true, EnhancedPattern: 0xa5, MasterPassword: []byte("factory"), UserPassword: []byte("user"), UserMaximum: true})
	dev := ata.New(d)
	fill(t, d)
	master := ata.Password{Master: true}
	copy(master.Value[:], "factory")
	// Level Maximum: the master password cannot unlock...
	if err := dev.SecurityUnlock(ctx, master); !ata.IsAborted(err) {
		t.Fatalf("master unlock at level Maximum: %v", err)
	}
	// ...but it can erase.
	if err := dev.SecurityErasePrepare(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dev.SecurityEraseUnit(ctx, master, true, 0); err != nil {
		t.Fatal(err)
	}
	if r := rawAll(d); len(bytes.Trim(r, "\xa5")) != 0 {
		t.Fatal("enhanced erase did not write the vendor pattern everywhere")
	}
	if id := identify(t, dev); id.Security.Enabled || id.Security.Locked {
		t.Fatalf("after erase: %s", id.Security.State())
	}
}

func TestLockedUnlockCountExpired(t *testing.T) {
	d := MustNew(Config{UserPassword: []byte("secret")})
	dev := ata.New(d)
	id := identify(t, dev)
	if !id.Security.Locked || id.Security.State() != "SEC4 (enabled, locked)" {
		t.Fatalf("power-on state %s", id.Security.State())
	}
	if _, err := d.ReadAt(make([]byte, 512), 0); err != ErrLocked {
		t.Fatalf("read while locked: %v", err)
	}
	if err := ata.SecurityCheck(id, ata.OpSetPassword); !errors.Is(err, ata.ErrLocked) {
		t.Fatalf("SecurityCheck set password when locked: %v", err)
	}
	wrong, _ := ata.NewPassword("guess")
	for i := 0; i < 5; i++ {
		if err := dev.SecurityUnlock(ctx, wrong); !ata.IsAborted(err) {
			t.Fatalf("wrong unlock %d: %v", i, err)
		}
	}
	right, _ := ata.NewPassword("secret")
	if err := dev.SecurityUnlock(ctx, right); !ata.IsAborted(err) {
		t.Fatalf("unlock after count expired: %v", err)
	}
	id = identify(t, dev)
	if !id.Security.CountExpired || !errors.Is(ata.SecurityCheck(id, ata.OpUnlock), ata.ErrCountExpired) {
		t.Fatalf("count expired not reported: %+v", id.Security)
	}
	d.PowerCycle()
	if err := dev.SecurityUnlock(ctx, right); err != nil {
		t.Fatalf("unlock after power cycle: %v", err)
	}
	if _, err := d.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatalf("read after unlock: %v", err)
	}
	if err := dev.SecurityDisablePassword(ctx, right); err != nil {
		t.Fatal(err)
	}
	d.PowerCycle()
	if id := identify(t, dev); id.Security.Enabled || id.Security.Locked {
		t.Fatalf("after disable + power cycle: %s", id.Security.State())
	}
}

func TestFrozen(t *testing.T) {
	d := MustNew(Config{FrozenAtPowerOn: true})
	dev := ata.New(d)
	id := identify(t, dev)
	if err := ata.SecurityCheck(id, ata.OpSetPassword); !errors.Is(err, ata.ErrFrozen) {
		t.Fatalf("SecurityCheck frozen: %v", err)
	}
	pw, _ := ata.NewPassword("x")
	if err := dev.SecuritySetPassword(ctx, pw); !ata.IsAborted(err) {
		t.Fatalf("set password while frozen: %v", err)
	}
	d.PowerCycle() // the BIOS freezes it again
	if !identify(t, dev).Security.Frozen {
		t.Fatal("not frozen after power cycle with FrozenAtPowerOn")
	}
	d.SuspendResume()
	if id := identify(t, dev); id.Security.Frozen || ata.SecurityCheck(id, ata.OpSetPassword) != nil {
		t.Fatalf("still frozen after suspend/resume: %s", id.Security.State())
	}
}

func pollSanitize(t *testing.T, dev *ata.Device) []*ata.SanitizeStatus {
	t.Helper()
	var out []*ata.SanitizeStatus
	for i := 0; i < 100; i++ {
		s, err := dev.SanitizeStatus(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
		if !s.InProgress {
			return out
		}
	}
	t.Fatal("sanitize never ended")
	return nil
}

func TestSanitizeCryptoScramble(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		d := MustNew(Config{Sanitize: true, Steps: 3, FixedSense: fixed})
		dev := ata.New(d)
		before := fill(t, d)
		if fixed {
			// Fixed format sense loses the status flags in COUNT 15:8...
			if err := dev.Sanitize(ctx, ata.SanitizeCryptoScramble, ata.SanitizeOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := dev.SanitizeStatus(ctx, false); !errors.Is(err, ata.ErrPartialRegisters) {
				t.Fatalf("status with fixed sense: %v", err)
			}
			// ...until D_SENSE is set.
			if err := dev.PreferDescriptorSense(ctx); err != nil {
				t.Fatal(err)
			}
			pollSanitize(t, dev)
			if err := dev.Sanitize(ctx, ata.SanitizeCryptoScramble, ata.SanitizeOptions{}); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := dev.Sanitize(ctx, ata.SanitizeCryptoScramble, ata.SanitizeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		pw, _ := ata.NewPassword("x")
		if err := dev.SecuritySetPassword(ctx, pw); !ata.IsAborted(err) {
			t.Errorf("security command during sanitize: %v", err)
		}
		if _, err := d.ReadAt(make([]byte, 512), 0); err != ErrSanitize {
			t.Errorf("read during sanitize: %v", err)
		}
		st := pollSanitize(t, dev)
		if !st[0].InProgress || st[0].CompletedWithoutError {
			t.Errorf("first status %+v", st[0])
		}
		if st[1].ProgressRaw == 0 {
			t.Errorf("progress did not move: %+v", st[1])
		}
		if last := st[len(st)-1]; !last.CompletedWithoutError {
			t.Errorf("final status %+v", last)
		}
		if r := rawAll(d); bytes.Equal(r, before) || len(bytes.Trim(r, "\x00")) == 0 {
			t.Error("crypto scramble left the data or zeros")
		}
	}
}

func TestSanitizeOverwritePattern(t *testing.T) {
	d := MustNew(Config{Sanitize: true, Steps: 2})
	dev := ata.New(d)
	fill(t, d)
	if err := dev.Sanitize(ctx, ata.SanitizeOverwrite, ata.SanitizeOptions{Pattern: 0xdeadbeef, Passes: 2, Invert: true}); err != nil {
		t.Fatal(err)
	}
	pollSanitize(t, dev)
	want := bytes.Repeat([]byte{^byte(0xef), ^byte(0xbe), ^byte(0xad), ^byte(0xde)}, int(d.Disk().Size())/4)
	if !bytes.Equal(rawAll(d), want) {
		t.Fatal("two inverted passes: the medium should hold the inverted pattern")
	}
}

func TestSanitizeFailureModes(t *testing.T) {
	// Without FAILURE MODE: SD3 is left only by a successful sanitize.
	d := MustNew(Config{Sanitize: true, FailAtStep: 2})
	dev := ata.New(d)
	if err := dev.Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{}); err != nil {
		t.Fatal(err)
	}
	st := pollSanitize(t, dev)
	if last := st[len(st)-1]; !last.Failed || last.Reason != ata.ReasonUnsuccessful {
		t.Fatalf("final status %+v", last)
	}
	if s, _ := dev.SanitizeStatus(ctx, true); !s.Failed {
		t.Fatal("CLEAR left SD3 although FAILURE MODE was 0")
	}
	if _, err := dev.ReadNativeMaxAddress(ctx); !ata.IsAborted(err) {
		t.Fatalf("other command in SD3: %v", err)
	}
	d.PowerCycle()
	if s, _ := dev.SanitizeStatus(ctx, false); !s.Failed {
		t.Fatal("SD3 did not survive a power cycle")
	}
	if err := dev.Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{}); err != nil {
		t.Fatalf("new sanitize from SD3: %v", err)
	}
	if last := pollSanitize(t, dev); !last[len(last)-1].CompletedWithoutError {
		t.Fatal("retry did not succeed")
	}

	// With FAILURE MODE: STATUS EXT with CLEAR returns to SD0.
	d = MustNew(Config{Sanitize: true, FailAtStep: 1})
	dev = ata.New(d)
	if err := dev.Sanitize(ctx, ata.SanitizeCryptoScramble, ata.SanitizeOptions{FailureMode: true}); err != nil {
		t.Fatal(err)
	}
	pollSanitize(t, dev)
	s, err := dev.SanitizeStatus(ctx, true)
	if err != nil || s.Failed || s.CompletedWithoutError {
		t.Fatalf("clear with FAILURE MODE: %+v %v", s, err)
	}
	if _, err := dev.ReadNativeMaxAddress(ctx); err != nil {
		t.Fatalf("after clearing: %v", err)
	}
}

func TestSanitizeFrozenAndUnsupported(t *testing.T) {
	d := MustNew(Config{Sanitize: true, Block: true, SanitizeFrozenAtPowerOn: true})
	dev := ata.New(d)
	err := dev.Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{})
	if r, ok := ata.SanitizeErrorReason(err); !ok || r != ata.ReasonFrozen {
		t.Fatalf("sanitize while frozen: %v", err)
	}
	if s, _ := dev.SanitizeStatus(ctx, false); !s.Frozen {
		t.Fatal("frozen bit not reported")
	}
	err = dev.Sanitize(ctx, ata.SanitizeCryptoScramble, ata.SanitizeOptions{})
	if r, ok := ata.SanitizeErrorReason(err); !ok || r != ata.ReasonUnsupported {
		t.Fatalf("unsupported crypto: %v", err)
	}
	if err := ata.SanitizeCheck(identify(t, dev), ata.SanitizeCryptoScramble); err == nil {
		t.Fatal("SanitizeCheck accepted an unsupported feature")
	}
	d2 := MustNew(Config{})
	if err := ata.New(d2).Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{}); !ata.IsAborted(err) {
		t.Fatalf("sanitize on a drive without the feature set: %v", err)
	}
}

func TestAntifreeze(t *testing.T) {
	d := MustNew(Config{Sanitize: true, Antifreeze: true})
	dev := ata.New(d)
	if err := dev.SanitizeAntifreezeLock(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := dev.SanitizeStatus(ctx, false); !s.Antifreeze {
		t.Fatal("antifreeze not reported")
	}
}

// The trap: an idle drive reports the result of some earlier sanitize.
func TestIdleDriveReportsPreviousSuccess(t *testing.T) {
	d := MustNew(Config{Sanitize: true, PreviousSanitizeSucceeded: true})
	before := fill(t, d)
	s, err := ata.New(d).SanitizeStatus(ctx, false)
	if err != nil || !s.CompletedWithoutError || s.InProgress {
		t.Fatalf("idle status %+v %v", s, err)
	}
	if !bytes.Equal(rawAll(d), before) {
		t.Fatal("data changed")
	}
}

func TestHPAAndDCO(t *testing.T) {
	d := MustNew(Config{Sectors: 4096, HPASectors: 3000, DCOSectors: 8192})
	dev := ata.New(d)
	id := identify(t, dev)
	if id.Sectors != 3000 {
		t.Fatalf("IDENTIFY sectors %d, want 3000", id.Sectors)
	}
	h, err := dev.ReadHPA(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Present() || h.NativeMaxLBA != 4095 || h.HiddenSectors() != 1096 {
		t.Fatalf("HPA %+v", h)
	}
	if _, err := d.ReadAt(make([]byte, 512), 3000*512); err != ErrIDNF {
		t.Fatalf("read inside the HPA: %v", err)
	}
	if err := dev.DCORestore(ctx); !ata.IsAborted(err) {
		t.Fatalf("DCO restore with an HPA set: %v", err)
	}
	// SET MAX without READ NATIVE MAX right before it is aborted.
	if _, err := dev.Exec(ctx, ata.SetMaxCmd(4095, true)); !ata.IsAborted(err) {
		t.Fatalf("SET MAX without READ NATIVE MAX: %v", err)
	}
	if err := dev.SetMaxAddress(ctx, 5000, true); !ata.IsIDNotFound(err) {
		t.Fatalf("SET MAX beyond native: %v", err)
	}
	if err := dev.SetMaxAddress(ctx, 4095, true); err != nil {
		t.Fatal(err)
	}
	if id := identify(t, dev); id.Sectors != 4096 {
		t.Fatalf("after volatile SET MAX: %d", id.Sectors)
	}
	d.PowerCycle()
	if id := identify(t, dev); id.Sectors != 3000 {
		t.Fatalf("volatile SET MAX survived a power cycle: %d", id.Sectors)
	}
	if err := dev.SetMaxAddress(ctx, 4095, false); err != nil {
		t.Fatal(err)
	}
	if err := dev.SetMaxAddress(ctx, 4095, false); !ata.IsAborted(err) {
		t.Fatalf("second non-volatile SET MAX in one power cycle: %v", err)
	}
	d.PowerCycle()
	if id := identify(t, dev); id.Sectors != 4096 {
		t.Fatalf("non-volatile SET MAX lost: %d", id.Sectors)
	}
	dco, err := dev.DCOIdentify(ctx)
	if err != nil || dco.MaxLBA != 8191 || !dco.HPA || dco.Checksum != ata.ChecksumValid {
		t.Fatalf("DCO %+v %v", dco, err)
	}
	if err := dev.DCORestore(ctx); err != nil {
		t.Fatal(err)
	}
	native, err := dev.ReadNativeMaxAddress(ctx)
	if err != nil || native != 8191 {
		t.Fatalf("native max after DCO restore: %d %v", native, err)
	}
	if id := identify(t, dev); id.Sectors != 8192 {
		t.Fatalf("IDENTIFY after DCO restore: %d", id.Sectors)
	}
}

func TestLyingDrive(t *testing.T) {
	d := MustNew(Config{Sanitize: true, Lying: true})
	dev := ata.New(d)
	before := fill(t, d)
	if err := dev.Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := pollSanitize(t, dev); !st[len(st)-1].CompletedWithoutError {
		t.Fatal("lying drive should report success")
	}
	if !bytes.Equal(rawAll(d), before) {
		t.Fatal("lying drive changed data")
	}
}

func TestCommandLog(t *testing.T) {
	d := MustNew(Config{})
	identify(t, ata.New(d))
	if cmds := d.Commands(); len(cmds) != 1 || cmds[0].Command != ata.CmdIdentify {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestSanitizeResumesAfterPowerLoss(t *testing.T) {
	d := MustNew(Config{Sanitize: true, Steps: 4, ManualProgress: true, UserPassword: []byte("pw")})
	dev := ata.New(d)
	pw, _ := ata.NewPassword("pw")
	if err := dev.SecurityUnlock(ctx, pw); err != nil {
		t.Fatal(err)
	}
	if err := dev.Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Advance(2); err != nil {
		t.Fatal(err)
	}
	d.PowerCycle()
	s, err := dev.SanitizeStatus(ctx, false)
	if err != nil || !s.InProgress || s.ProgressRaw != 0x8000 {
		t.Fatalf("after power loss: %+v %v", s, err)
	}
	if err := d.Advance(2); err != nil {
		t.Fatal(err)
	}
	if s, _ := dev.SanitizeStatus(ctx, false); !s.CompletedWithoutError || s.InProgress {
		t.Fatalf("after resume: %+v", s)
	}
	// The power cycle relocked the drive: the password survives a sanitize.
	if id := identify(t, dev); !id.Security.Locked {
		t.Fatalf("security state after power cycle: %s", id.Security.State())
	}
}

// An ACS-3 drive with the Accessible Max Address feature set: IDENTIFY word
// 119 bit 8, no HPA/DCO; 27h/37h are aborted, 78h works.
func TestAccessibleMaxAddress(t *testing.T) {
	d := MustNew(Config{AMA: true, Sectors: 4096, HPASectors: 3000})
	dev := ata.New(d)
	id := identify(t, dev)
	if !id.AMASupported || id.HPASupported || id.DCOSupported || id.Sectors != 3000 {
		t.Fatalf("AMA %v HPA %v DCO %v sectors %d", id.AMASupported, id.HPASupported, id.DCOSupported, id.Sectors)
	}
	if _, err := dev.ReadNativeMaxAddress(ctx); !ata.IsAborted(err) {
		t.Fatalf("READ NATIVE MAX on an AMA drive: %v", err)
	}
	h, err := dev.ReadHPA(ctx, id)
	if err != nil || h.NativeMaxLBA != 4095 || h.HiddenSectors() != 1096 || h.Method != ata.MethodAMA {
		t.Fatalf("ReadHPA %+v %v", h, err)
	}
	if err := dev.SetAccessibleMaxAddress(ctx, 5000); !ata.IsIDNotFound(err) {
		t.Fatalf("SET ACCESSIBLE MAX beyond native: %v", err)
	}
	if m, err := dev.SetNativeMax(ctx, id, 4095); err != nil || m != ata.MethodSetAMA {
		t.Fatalf("SetNativeMax %s %v", m, err)
	}
	d.PowerCycle() // non-volatile
	if id := identify(t, dev); id.Sectors != 4096 {
		t.Fatalf("after SET ACCESSIBLE MAX ADDRESS EXT and a power cycle: %d sectors", id.Sectors)
	}
	if id := identify(t, ata.New(MustNew(Config{NoRotationRate: true}))); id.RotationRate != 0 {
		t.Fatalf("word 217 %d", id.RotationRate)
	}
}

// A drive with a user password loses power in S3: after suspend/resume it
// is unfrozen but locked again (SEC4), so the unlock must be repeated.
func TestSuspendResumeLocks(t *testing.T) {
	d := MustNew(Config{UserPassword: []byte("owner"), FrozenAtPowerOn: true})
	dev := ata.New(d)
	if s := identify(t, dev).Security; !s.Locked || s.Frozen {
		t.Fatalf("power-on with a password: %s (a locked drive aborts the BIOS's freeze)", s.State())
	}
	pw, _ := ata.NewPassword("owner")
	if err := dev.SecurityUnlock(ctx, pw); err != nil {
		t.Fatal(err)
	}
	d.WarmReboot() // the drive keeps power, the BIOS freezes it: SEC6
	if s := identify(t, dev).Security; s.State() != "SEC6 (enabled, unlocked, frozen)" {
		t.Fatalf("after a warm reboot: %s", s.State())
	}
	if err := dev.SecurityDisablePassword(ctx, pw); !ata.IsAborted(err) {
		t.Fatalf("disable password while frozen: %v", err)
	}
	d.SuspendResume()
	if s := identify(t, dev).Security; !s.Locked || s.Frozen {
		t.Fatalf("after suspend/resume: %s, want SEC4", s.State())
	}
	if err := dev.SecurityDisablePassword(ctx, pw); !ata.IsAborted(err) {
		t.Fatalf("disable password while locked: %v", err)
	}
	if err := dev.SecurityUnlock(ctx, pw); err != nil {
		t.Fatal(err)
	}
	if err := dev.SecurityDisablePassword(ctx, pw); err != nil {
		t.Fatal(err)
	}
}

// STATUS EXT in SD3 aborted with reason 0 still means "failed".
func TestSanitizeFailureReasonZero(t *testing.T) {
	d := MustNew(Config{Sanitize: true, FailAtStep: 1, FailureReasonZero: true})
	dev := ata.New(d)
	if err := dev.Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = d.Advance(1)
	st, err := dev.SanitizeStatus(ctx, false)
	if err != nil || !st.Failed || st.Reason != ata.ReasonNotReported {
		t.Fatalf("status %+v %v", st, err)
	}
}
