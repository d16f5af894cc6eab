// Package nvme sends NVMe admin commands (Identify, Get Log Page, Format
// NVM, Sanitize) and decodes what comes back.
//
// Every command goes through a Transport: Ioctl is the real one (Linux
// NVME_IOCTL_ADMIN_CMD on /dev/nvmeN or /dev/nvmeNnM); nvmesim implements
// the same interface as a spec state machine for tests. A Transport returns
// the completion for every command the controller answered, with the status
// decoded; Run and the helpers turn a non-zero status into a *StatusError.
package nvme

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Admin opcodes (NVMe Base 2.0 §5, Figure 138).
const (
	OpGetLogPage = 0x02
	OpIdentify   = 0x06
	OpFormatNVM  = 0x80
	OpSanitize   = 0x84
)

// BroadcastNSID addresses all namespaces (Format NVM per FNA, log pages
// with controller scope).
const BroadcastNSID = 0xFFFFFFFF

// Command is one admin command (submission queue entry fields the host
// sets; NVMe Base 2.0 §4.2, Figure 88).
type Command struct {
	Opcode uint8
	NSID   uint32
	CDW2   uint32
	CDW3   uint32
	CDW10  uint32
	CDW11  uint32
	CDW12  uint32
	CDW13  uint32
	CDW14  uint32
	CDW15  uint32
	// Data is the data buffer: filled by the controller for Identify and
	// Get Log Page. Admin commands lethe sends never carry data to the
	// controller.
	Data []byte
	// Timeout is the kernel timeout; zero means DefaultTimeout (the
	// kernel's admin_timeout, 60 s, when using the ioctl).
	Timeout time.Duration
}

// DefaultTimeout applies when Command.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Completion is the controller's answer.
type Completion struct {
	// Result is completion queue entry dword 0 (command specific).
	Result uint32
	Status Status
}

// Status is the 15-bit status field of the completion (NVMe Base 2.0
// §4.6.1, Figure 93) as the Linux ioctl returns it: SC bits 7:0, SCT 10:8,
// CRD 12:11, More bit 13, DNR bit 14.
type Status uint16

// Status code types.
const (
	SCTGeneric         = 0
	SCTCommandSpecific = 1
	SCTMedia           = 2
	SCTPath            = 3
	SCTVendor          = 7
)

// SC returns the status code.
func (s Status) SC() uint8 { return uint8(s) }

// SCT returns the status code type.
func (s Status) SCT() uint8 { return uint8(s>>8) & 0x7 }

// Code returns SCT<<8 | SC, the form the Status* constants use.
func (s Status) Code() uint16 { return uint16(s) & 0x7ff }

// DNR reports Do Not Retry.
func (s Status) DNR() bool { return s&0x4000 != 0 }

// More reports that more status information is in the Error log.
func (s Status) More() bool { return s&0x2000 != 0 }

// CRD is the command retry delay index.
func (s Status) CRD() uint8 { return uint8(s>>11) & 0x3 }

// OK reports a successful completion.
func (s Status) OK() bool { return s.Code() == 0 }

// Status codes lethe branches on (SCT<<8 | SC), NVMe Base 2.0 Figures 95,
// 96 and 97.
const (
	StatusSuccess              = 0x000
	StatusInvalidOpcode        = 0x001
	StatusInvalidField         = 0x002
	StatusDataTransferError    = 0x004
	StatusAbortedPowerLoss     = 0x005
	StatusInternalError        = 0x006
	StatusAbortRequested       = 0x007
	StatusInvalidNamespace     = 0x00B
	StatusCommandSequenceError = 0x00C
	StatusSanitizeFailed       = 0x01C
	StatusSanitizeInProgress   = 0x01D
	StatusNamespaceWriteProt   = 0x020
	StatusCommandInterrupted   = 0x021
	StatusProhibitedLockdown   = 0x023
	StatusAdminMediaNotReady   = 0x024
	StatusLBAOutOfRange        = 0x080
	StatusNamespaceNotReady    = 0x082
	StatusFormatInProgress     = 0x084
	StatusInvalidLogPage       = 0x109
	StatusInvalidFormat        = 0x10A
	StatusWriteFault           = 0x280
	StatusUnrecoveredReadError = 0x281
)

var statusNames = map[uint16]string{
	StatusSuccess:              "Successful Completion",
	StatusInvalidOpcode:        "Invalid Command Opcode",
	StatusInvalidField:         "Invalid Field in Command",
	0x003:                      "Command ID Conflict",
	StatusDataTransferError:    "Data Transfer Error",
	StatusAbortedPowerLoss:     "Commands Aborted due to Power Loss Notification",
	StatusInternalError:        "Internal Error",
	StatusAbortRequested:       "Command Abort Requested",
	StatusInvalidNamespace:     "Invalid Namespace or Format",
	StatusCommandSequenceError: "Command Sequence Error",
	StatusSanitizeFailed:       "Sanitize Failed",
	StatusSanitizeInProgress:   "Sanitize In Progress",
	StatusNamespaceWriteProt:   "Namespace is Write Protected",
	StatusCommandInterrupted:   "Command Interrupted",
	StatusProhibitedLockdown:   "Command Prohibited by Command and Feature Lockdown",
	StatusAdminMediaNotReady:   "Admin Command Media Not Ready",
	StatusLBAOutOfRange:        "LBA Out of Range",
	StatusNamespaceNotReady:    "Namespace Not Ready",
	StatusFormatInProgress:     "Format In Progress",
	StatusInvalidLogPage:       "Invalid Log Page",
	StatusInvalidFormat:        "Invalid Format",
	StatusWriteFault:           "Write Fault",
	StatusUnrecoveredReadError: "Unrecovered Read Error",
}

func (s Status) String() string {
	n, ok := statusNames[s.Code()]
	if !ok {
		n = fmt.Sprintf("SCT 0x%x SC 0x%02x", s.SCT(), s.SC())
	}
	if s.DNR() {
		n += " (DNR)"
	}
	return n
}

// Transport sends one admin command. It returns an error only when the
// command could not be delivered or answered (ioctl failure, timeout); a
// completion with a non-zero status is returned as a Completion.
type Transport interface {
	Admin(ctx context.Context, c *Command) (*Completion, error)
}

// ErrCancelled says the kernel cancelled the command: the NVMe passthrough
// ioctl returns EINTR when the request timed out and was aborted, or the
// controller was reset while it was outstanding (it waits
// uninterruptibly, so a signal does not cause it). The controller may or
// may not have carried the command out: its outcome is unknown. A Format
// NVM or Sanitize that got this must never be sent again blindly; the
// caller follows the drive's own state (the Sanitize Status log, the
// namespace's Format Progress Indicator) instead.
var ErrCancelled = errors.New("the kernel cancelled the command (timed out and aborted, or the controller was reset): whether the controller carried it out is unknown")

// IsCancelled reports ErrCancelled in err's chain.
func IsCancelled(err error) bool { return errors.Is(err, ErrCancelled) }

// RetryAfterCancel says whether a command the kernel cancelled may be sent
// again: only the ones that read (Identify, Get Log Page). Everything else
// may have started something in the controller.
func RetryAfterCancel(opcode uint8) bool {
	return opcode == OpIdentify || opcode == OpGetLogPage
}

// StatusError is a command the controller completed with an error status.
type StatusError struct {
	Op     string
	Status Status
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: %s (status 0x%04x)", e.Op, e.Status, uint16(e.Status))
}

// Is lets errors.Is match a *StatusError against a StatusCode value.
func (e *StatusError) Is(target error) bool {
	t, ok := target.(StatusCode)
	return ok && e.Status.Code() == uint16(t)
}

// StatusCode is a status as an error value for errors.Is, e.g.
// errors.Is(err, nvme.StatusCode(nvme.StatusSanitizeInProgress)).
type StatusCode uint16

func (c StatusCode) Error() string { return Status(c).String() }

// Run sends c and converts a non-zero status into a *StatusError; the
// completion is returned either way when the controller answered.
func Run(ctx context.Context, t Transport, op string, c *Command) (*Completion, error) {
	cpl, err := t.Admin(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if !cpl.Status.OK() {
		return cpl, &StatusError{Op: op, Status: cpl.Status}
	}
	return cpl, nil
}

func statusIs(err error, code uint16) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status.Code() == code
}

// IsInvalidOpcode reports Invalid Command Opcode (e.g. Sanitize on QEMU).
func IsInvalidOpcode(err error) bool { return statusIs(err, StatusInvalidOpcode) }

// IsInvalidField reports Invalid Field in Command (e.g. an unsupported
// sanitize action or SES value).
func IsInvalidField(err error) bool { return statusIs(err, StatusInvalidField) }

// IsSanitizeInProgress reports Sanitize In Progress.
func IsSanitizeInProgress(err error) bool { return statusIs(err, StatusSanitizeInProgress) }

// IsSanitizeFailed reports Sanitize Failed: the controller is in a sanitize
// failure mode.
func IsSanitizeFailed(err error) bool { return statusIs(err, StatusSanitizeFailed) }

// IsFormatInProgress reports Format In Progress.
func IsFormatInProgress(err error) bool { return statusIs(err, StatusFormatInProgress) }

// IsInvalidFormat reports Invalid Format (Format NVM with an unsupported
// LBA format or protection setting).
func IsInvalidFormat(err error) bool { return statusIs(err, StatusInvalidFormat) }

// IsNotReady reports Namespace Not Ready or Admin Command Media Not Ready.
func IsNotReady(err error) bool {
	return statusIs(err, StatusNamespaceNotReady) || statusIs(err, StatusAdminMediaNotReady)
}

// IsDNR reports whether err is an NVMe error with Do Not Retry set.
func IsDNR(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status.DNR()
}
