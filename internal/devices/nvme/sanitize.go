package nvme

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// Log page identifiers.
const (
	LogSanitizeStatus = 0x81
	SanitizeLogBytes  = 512
)

// GetLogPageCmd builds Get Log Page (opcode 0x02, NVMe Base 2.0 §5.16):
// CDW10 LID 7:0, LSP 14:8, RAE bit 15, NUMDL 31:16; CDW11 NUMDU 15:0;
// CDW12/13 the byte offset. NUMD is the 0-based dword count.
func GetLogPageCmd(lid uint8, nsid uint32, buf []byte, rae bool, offset uint64) *Command {
	numd := uint32(len(buf)/4) - 1
	c := &Command{Opcode: OpGetLogPage, NSID: nsid, Data: buf,
		CDW10: uint32(lid) | (numd&0xffff)<<16,
		CDW11: numd >> 16,
		CDW12: uint32(offset), CDW13: uint32(offset >> 32),
	}
	if rae {
		c.CDW10 |= 1 << 15
	}
	return c
}

// SanitizeState is SSTAT bits 2:0 of the Sanitize Status log (NVMe Base
// 2.1 §5.1.12.1.33, Figure 291; NVMe Base 2.0 Figure 266).
type SanitizeState uint8

// Sanitize states.
//
// 100b is easy to read backwards (libblockdev names it
// ..._SUCCESS_NO_DEALLOC): it reports that the most recent sanitize *for
// which No-Deallocate After Sanitize was requested* completed
// successfully **with deallocation** of all user data, i.e. the controller
// deallocated although asked not to. A sanitize that honoured NDAS
// reports 001b like any other success.
const (
	SanitizeNever      SanitizeState = 0 // 000b: never sanitized
	SanitizeSuccess    SanitizeState = 1 // 001b: the most recent sanitize completed successfully
	SanitizeInProgress SanitizeState = 2 // 010b
	SanitizeFailed     SanitizeState = 3 // 011b
	// SanitizeSuccessDeallocated is 100b: NDAS was requested, the
	// sanitize succeeded, and the controller deallocated the user data
	// anyway.
	SanitizeSuccessDeallocated SanitizeState = 4
)

func (s SanitizeState) String() string {
	switch s {
	case SanitizeNever:
		return "never sanitized"
	case SanitizeSuccess:
		return "completed successfully"
	case SanitizeInProgress:
		return "in progress"
	case SanitizeFailed:
		return "failed"
	case SanitizeSuccessDeallocated:
		return "completed successfully with deallocation although no-deallocate was requested"
	}
	return fmt.Sprintf("state %d (reserved)", uint8(s))
}

// Succeeded reports either success state.
func (s SanitizeState) Succeeded() bool {
	return s == SanitizeSuccess || s == SanitizeSuccessDeallocated
}

// Estimate is a sanitize time estimate in seconds; NotReported (all ones)
// means the controller gives none.
type Estimate uint32

// NotReported is the "no time period reported" value.
const NotReported Estimate = 0xFFFFFFFF

// Duration returns the estimate and whether one was reported.
func (e Estimate) Duration() (time.Duration, bool) {
	if e == NotReported {
		return 0, false
	}
	return time.Duration(e) * time.Second, true
}

// SanitizeLog is the Sanitize Status log page (0x81).
type SanitizeLog struct {
	// SPROG is the progress numerator over 65536 while in progress; the
	// controller reports 0xFFFF otherwise.
	SPROG    uint16
	Progress float64
	Status   SanitizeState // SSTAT 2:0
	// OverwritePasses is SSTAT 7:3: passes completed by the current or
	// last overwrite.
	OverwritePasses uint8
	// GlobalDataErased (SSTAT bit 8): no user data has been written since
	// the last successful sanitize or manufacture.
	GlobalDataErased bool
	// SCDW10 is CDW10 of the sanitize command that started the current or
	// most recent operation.
	SCDW10 uint32
	// Estimated times (NVMe Base 2.1 Figure 291): overwrite (ETO, for an
	// overwrite of 16 passes), block erase, crypto erase; and the same
	// "with No-Deallocate Media Modification" (ETOND, ETBEND, ETCEND),
	// which apply only to a sanitize with No-Deallocate After Sanitize
	// on a controller whose SANICAP.NODMMAS is 10b (the media is
	// additionally modified after such a sanitize).
	ETO, ETBE, ETCE, ETOND, ETBEND, ETCEND Estimate
	Raw                                    []byte
}

// Action returns the SANACT of SCDW10.
func (l *SanitizeLog) Action() SanitizeAction { return SanitizeAction(l.SCDW10 & 0x7) }

// EstimateField returns the raw estimate field for action a: the "with
// No-Deallocate Media Modification" one when mediaModified, else the
// plain one. Estimate applies the rules for which one counts.
func (l *SanitizeLog) EstimateField(a SanitizeAction, mediaModified bool) Estimate {
	switch {
	case a == SanitizeOverwrite && mediaModified:
		return l.ETOND
	case a == SanitizeOverwrite:
		return l.ETO
	case a == SanitizeBlockErase && mediaModified:
		return l.ETBEND
	case a == SanitizeBlockErase:
		return l.ETBE
	case a == SanitizeCryptoErase && mediaModified:
		return l.ETCEND
	case a == SanitizeCryptoErase:
		return l.ETCE
	}
	return NotReported
}

// Estimate is the controller's estimate for the sanitize r on a controller
// with SANICAP.NODMMAS nodmmas: the ND field only when r asks for
// no-deallocate and NODMMAS is 10b (the media is then additionally
// modified after the sanitize; otherwise the ND fields do not apply), and
// for an overwrite the 16-pass figure scaled to r's passes.
func (l *SanitizeLog) Estimate(r SanitizeRequest, nodmmas uint8) (time.Duration, bool) {
	e := l.EstimateField(r.Action, r.NoDeallocate && nodmmas == NODMMASModified)
	d, ok := e.Duration()
	if !ok || r.Action != SanitizeOverwrite {
		return d, ok
	}
	passes := time.Duration(r.OverwritePasses)
	if passes == 0 || passes > 16 {
		passes = 16
	}
	return d * passes / 16, true
}

// NODMMAS values (SANICAP bits 31:30).
const (
	NODMMASNotReported = 0 // not reported
	NODMMASNotModified = 1 // media not additionally modified after a no-deallocate sanitize
	NODMMASModified    = 2 // media additionally modified after a no-deallocate sanitize
)

// ParseSanitizeLog parses the Sanitize Status log (at least 32 bytes; the
// page is 512).
func ParseSanitizeLog(b []byte) (*SanitizeLog, error) {
	if len(b) < 32 {
		return nil, fmt.Errorf("sanitize status log: %d bytes, need 32", len(b))
	}
	le32 := func(o int) Estimate { return Estimate(binary.LittleEndian.Uint32(b[o:])) }
	sstat := binary.LittleEndian.Uint16(b[2:4])
	l := &SanitizeLog{
		SPROG:            binary.LittleEndian.Uint16(b[0:2]),
		Status:           SanitizeState(sstat & 0x7),
		OverwritePasses:  uint8(sstat>>3) & 0x1f,
		GlobalDataErased: sstat&0x100 != 0,
		SCDW10:           binary.LittleEndian.Uint32(b[4:8]),
		ETO:              le32(8),
		ETBE:             le32(12),
		ETCE:             le32(16),
		ETOND:            le32(20),
		ETBEND:           le32(24),
		ETCEND:           le32(28),
		Raw:              append([]byte(nil), b...),
	}
	if l.Status == SanitizeInProgress {
		l.Progress = float64(l.SPROG) / 65536
	}
	return l, nil
}

// GetSanitizeLog reads log page 0x81 (controller scope, NSID FFFFFFFFh, as
// nvme-cli sends it).
func GetSanitizeLog(ctx context.Context, t Transport) (*SanitizeLog, error) {
	buf := make([]byte, SanitizeLogBytes)
	if _, err := Run(ctx, t, "Get Log Page (Sanitize Status)", GetLogPageCmd(LogSanitizeStatus, BroadcastNSID, buf, false, 0)); err != nil {
		return nil, err
	}
	return ParseSanitizeLog(buf)
}

// SanitizeAction is SANACT (CDW10 bits 2:0).
type SanitizeAction uint8

// Sanitize actions.
const (
	SanitizeExitFailureMode SanitizeAction = 1
	SanitizeBlockErase      SanitizeAction = 2
	SanitizeOverwrite       SanitizeAction = 3
	SanitizeCryptoErase     SanitizeAction = 4
)

func (a SanitizeAction) String() string {
	switch a {
	case SanitizeExitFailureMode:
		return "Exit Failure Mode"
	case SanitizeBlockErase:
		return "Block Erase"
	case SanitizeOverwrite:
		return "Overwrite"
	case SanitizeCryptoErase:
		return "Crypto Erase"
	}
	return fmt.Sprintf("SANACT %d", uint8(a))
}

// SanitizeRequest is one Sanitize command (NVMe Base 2.0 §5.24, Figure 372).
type SanitizeRequest struct {
	Action SanitizeAction
	// AUSE (bit 3): allow unrestricted sanitize exit. With it a failed
	// sanitize may be left with Exit Failure Mode; without it the
	// controller enters restricted failure mode and only a successful
	// sanitize clears it.
	AUSE bool
	// OverwritePasses (OWPASS, bits 7:4) 1..16, 16 sent as 0.
	OverwritePasses uint8
	// InvertBetweenPasses (OIPBP, bit 8).
	InvertBetweenPasses bool
	// NoDeallocate (NDAS, bit 9): do not deallocate after sanitize, so a
	// read-back shows what the medium holds. Refused when SANICAP.NDI.
	NoDeallocate bool
	// Pattern (CDW11) for overwrite.
	Pattern uint32
}

// SanitizeCmd builds Sanitize (opcode 0x84). NSID is 0: sanitize acts on
// the whole NVM subsystem (nvme-cli sends 0 too).
func SanitizeCmd(r SanitizeRequest) (*Command, error) {
	if r.Action < SanitizeExitFailureMode || r.Action > SanitizeCryptoErase {
		return nil, fmt.Errorf("sanitize: invalid action %d", r.Action)
	}
	cdw10 := uint32(r.Action)
	if r.AUSE {
		cdw10 |= 1 << 3
	}
	if r.Action == SanitizeOverwrite {
		if r.OverwritePasses == 0 || r.OverwritePasses > 16 {
			return nil, fmt.Errorf("sanitize overwrite: %d passes, need 1..16", r.OverwritePasses)
		}
		cdw10 |= uint32(r.OverwritePasses&0xf) << 4
		if r.InvertBetweenPasses {
			cdw10 |= 1 << 8
		}
	}
	if r.NoDeallocate {
		cdw10 |= 1 << 9
	}
	c := &Command{Opcode: OpSanitize, CDW10: cdw10}
	if r.Action == SanitizeOverwrite {
		c.CDW11 = r.Pattern
	}
	return c, nil
}

// Sanitize starts a sanitize operation. The command completes as soon as
// the operation has started; poll GetSanitizeLog. Reading SSTAT alone
// proves nothing (an idle drive reports the previous result): the caller
// must see the operation in progress, or SCDW10 and the state change.
func Sanitize(ctx context.Context, t Transport, r SanitizeRequest) error {
	c, err := SanitizeCmd(r)
	if err != nil {
		return err
	}
	_, err = Run(ctx, t, "Sanitize "+r.Action.String(), c)
	return err
}

// SanitizeCheck tells from SANICAP whether r can be accepted.
func SanitizeCheck(c *Controller, r SanitizeRequest) error {
	s := c.Sanitize()
	switch {
	case r.Action == SanitizeCryptoErase && !s.Crypto,
		r.Action == SanitizeBlockErase && !s.BlockErase,
		r.Action == SanitizeOverwrite && !s.Overwrite:
		return fmt.Errorf("sanitize %s: not supported by the controller (SANICAP 0x%08x)", r.Action, c.SANICAP)
	case r.NoDeallocate && s.NoDeallocInhibited:
		return fmt.Errorf("sanitize %s: no-deallocate is inhibited by the controller (SANICAP NDI)", r.Action)
	}
	return nil
}

// FormatRequest is one Format NVM (NVM Command Set 1.0 §4.3 / NVMe Base
// 2.0 §5.23, Figure 370).
type FormatRequest struct {
	// NSID is the namespace, or BroadcastNSID for all.
	NSID uint32
	// LBAF is the LBA format index 0..63 (bits 3:0 and 13:12).
	LBAF uint8
	// SES (bits 11:9): 0 no secure erase, 1 user data erase, 2 crypto erase
	// (only when FNA bit 2 is set).
	SES uint8
	// MSET, PI, PIL: metadata and protection settings (bits 4, 7:5, 8).
	MSET bool
	PI   uint8
	PIL  bool
	// Timeout for the command, which blocks until the format is done.
	Timeout time.Duration
}

// Secure erase settings.
const (
	SESNone     = 0
	SESUserData = 1
	SESCrypto   = 2
)

// FormatCmd builds Format NVM (opcode 0x80).
func FormatCmd(r FormatRequest) (*Command, error) {
	if r.LBAF > 63 {
		return nil, fmt.Errorf("format: LBA format %d out of range", r.LBAF)
	}
	if r.SES > 7 || r.PI > 7 {
		return nil, fmt.Errorf("format: SES %d / PI %d out of range", r.SES, r.PI)
	}
	cdw10 := uint32(r.LBAF&0xf) | uint32(r.LBAF>>4)<<12 | uint32(r.PI)<<5 | uint32(r.SES)<<9
	if r.MSET {
		cdw10 |= 1 << 4
	}
	if r.PIL {
		cdw10 |= 1 << 8
	}
	return &Command{Opcode: OpFormatNVM, NSID: r.NSID, CDW10: cdw10, Timeout: r.Timeout}, nil
}

// Format sends Format NVM and waits for it to complete.
func Format(ctx context.Context, t Transport, r FormatRequest) error {
	c, err := FormatCmd(r)
	if err != nil {
		return err
	}
	_, err = Run(ctx, t, fmt.Sprintf("Format NVM (NSID 0x%x, LBAF %d, SES %d)", r.NSID, r.LBAF, r.SES), c)
	return err
}

// FormatTimeout is the Format NVM timeout lethe uses. The controller gives
// no format estimate, so it borrows the sanitize estimates where reported
// (block erase for SES=1, crypto erase for SES=2; x2 + 10 minutes), and
// otherwise allows the time to write the whole capacity at 50 MB/s plus 10
// minutes. nvme-cli sends 0 (the kernel's 60 s admin timeout), which a
// user-data erase of a large drive can exceed.
func FormatTimeout(log *SanitizeLog, ses uint8, capacityBytes uint64) time.Duration {
	if log != nil {
		var e Estimate = NotReported
		switch ses {
		case SESUserData:
			e = log.ETBE
		case SESCrypto:
			e = log.ETCE
		}
		if d, ok := e.Duration(); ok {
			return 2*d + 10*time.Minute
		}
	}
	return time.Duration(capacityBytes/50e6)*time.Second + 10*time.Minute
}

// SanitizeTimeout is how long lethe waits for a sanitize operation to end
// (polling the log): twice the controller's estimate for the request (see
// SanitizeLog.Estimate) plus 10 minutes; without an estimate, the time to
// write the capacity once per pass at 50 MB/s plus 10 minutes (a crypto
// erase without an estimate gets the same, erring long: a sanitize cannot
// be aborted, so giving up early only loses track of it). An overwrite,
// whose estimate is scaled from the 16-pass figure, never gets less than
// that capacity bound.
func SanitizeTimeout(l *SanitizeLog, r SanitizeRequest, nodmmas uint8, capacityBytes uint64) time.Duration {
	passes := uint64(1)
	if r.Action == SanitizeOverwrite && r.OverwritePasses > 0 {
		passes = uint64(r.OverwritePasses)
	}
	fromCapacity := time.Duration(passes*capacityBytes/50e6)*time.Second + 10*time.Minute
	if l != nil {
		if d, ok := l.Estimate(r, nodmmas); ok {
			t := 2*d + 10*time.Minute
			if r.Action == SanitizeOverwrite {
				t = max(t, fromCapacity)
			}
			return t
		}
	}
	return fromCapacity
}
