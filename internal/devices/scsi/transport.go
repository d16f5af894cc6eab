// Package scsi sends SCSI commands to a drive and decodes what comes back.
//
// Every command goes through a Transport: one CDB (plus an optional data
// buffer) in, status, sense data and the transferred length out. SGIO is the
// real implementation (Linux SG_IO on /dev/sdX or /dev/sgN); scsisim and
// atasim implement the same interface as spec state machines for tests.
//
// A Transport reports only delivery failures as errors (the ioctl failed,
// the host adapter or driver gave up). A command the device completed with a
// status other than GOOD comes back as a Result; Result.Err (or Run, which
// calls it) turns that into a typed error: *SenseError for CHECK CONDITION,
// *StatusError for the other statuses.
package scsi

import (
	"context"
	"fmt"
	"time"
)

// Direction is the direction of the data phase.
type Direction int

// Data directions, as seen from the host.
const (
	DirNone Direction = iota // no data phase
	DirIn                    // device to host (e.g. INQUIRY)
	DirOut                   // host to device (e.g. a SANITIZE parameter list)
)

func (d Direction) String() string {
	switch d {
	case DirNone:
		return "none"
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// DefaultTimeout applies when Command.Timeout is zero. It is meant for short
// commands (INQUIRY, REQUEST SENSE); erase commands always carry a timeout
// derived from the drive's own estimate or run with IMMED set.
const DefaultTimeout = 60 * time.Second

// Command is one SCSI command.
type Command struct {
	CDB  []byte
	Data []byte // buffer for the data phase: filled (DirIn) or sent (DirOut)
	Dir  Direction
	// Timeout bounds the command in the kernel (SG_IO timeout); zero means
	// DefaultTimeout. When the deadline of the context passed to Exec is
	// earlier, the earlier one wins. An SG_IO in flight cannot be cancelled.
	Timeout time.Duration
}

// Status is the SCSI status byte (SAM-5 §5.3).
type Status uint8

// SCSI status codes.
const (
	StatusGood                Status = 0x00
	StatusCheckCondition      Status = 0x02
	StatusConditionMet        Status = 0x04
	StatusBusy                Status = 0x08
	StatusReservationConflict Status = 0x18
	StatusTaskSetFull         Status = 0x28
	StatusACAActive           Status = 0x30
	StatusTaskAborted         Status = 0x40
)

func (s Status) String() string {
	switch s {
	case StatusGood:
		return "GOOD"
	case StatusCheckCondition:
		return "CHECK CONDITION"
	case StatusConditionMet:
		return "CONDITION MET"
	case StatusBusy:
		return "BUSY"
	case StatusReservationConflict:
		return "RESERVATION CONFLICT"
	case StatusTaskSetFull:
		return "TASK SET FULL"
	case StatusACAActive:
		return "ACA ACTIVE"
	case StatusTaskAborted:
		return "TASK ABORTED"
	}
	return fmt.Sprintf("status 0x%02x", uint8(s))
}

// Result is what the device returned for one command.
type Result struct {
	Status Status
	// Sense holds the raw sense data when the device returned any (CHECK
	// CONDITION, or with CK_COND for ATA PASS-THROUGH).
	Sense []byte
	// DataLen is the number of bytes actually transferred; Resid is
	// len(Command.Data) - DataLen as the driver reported it.
	DataLen int
	Resid   int
	// HostStatus and DriverStatus are the Linux SCSI midlayer's view
	// (DID_* and DRIVER_* codes); non-zero means the command may not have
	// reached the device. Simulators leave them zero.
	HostStatus   uint16
	DriverStatus uint16
	Duration     time.Duration
}

// Err converts a non-GOOD result into a typed error, or returns nil. op
// names the command in the error ("SANITIZE", "INQUIRY").
func (r *Result) Err(op string) error {
	if r.HostStatus != 0 || r.DriverStatus&0x0f != 0 && r.DriverStatus&0x0f != driverSense {
		return &TransportError{Op: op, HostStatus: r.HostStatus, DriverStatus: r.DriverStatus}
	}
	switch r.Status {
	case StatusGood, StatusConditionMet:
		return nil
	case StatusCheckCondition:
		s, err := DecodeSense(r.Sense)
		if err != nil {
			return &StatusError{Op: op, Status: r.Status, Detail: "unreadable sense data: " + err.Error()}
		}
		return &SenseError{Op: op, Sense: s}
	}
	return &StatusError{Op: op, Status: r.Status}
}

// driverSense is DRIVER_SENSE: the driver says sense data is present, which
// is not a transport failure.
const driverSense = 0x08

// Transport executes one SCSI command.
type Transport interface {
	Exec(ctx context.Context, c *Command) (*Result, error)
}

// Run executes c and returns a typed error for any status other than GOOD.
// The Result is returned whenever the device answered, also with an error,
// so callers can look at the sense data.
func Run(ctx context.Context, t Transport, op string, c *Command) (*Result, error) {
	r, err := t.Exec(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return r, r.Err(op)
}

// TransportError says the host adapter or driver failed the command (for
// example a timeout, DID_TIME_OUT = 0x03, or a reset); the device may or may
// not have seen it.
type TransportError struct {
	Op           string
	HostStatus   uint16
	DriverStatus uint16
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s: transport failure (host status 0x%02x %s, driver status 0x%02x)",
		e.Op, e.HostStatus, hostStatusName(e.HostStatus), e.DriverStatus)
}

// Timeout reports whether the host adapter timed the command out.
func (e *TransportError) Timeout() bool { return e.HostStatus == 0x03 }

func hostStatusName(h uint16) string {
	names := map[uint16]string{
		0x00: "DID_OK", 0x01: "DID_NO_CONNECT", 0x02: "DID_BUS_BUSY", 0x03: "DID_TIME_OUT",
		0x04: "DID_BAD_TARGET", 0x05: "DID_ABORT", 0x06: "DID_PARITY", 0x07: "DID_ERROR",
		0x08: "DID_RESET", 0x09: "DID_BAD_INTR", 0x0a: "DID_PASSTHROUGH", 0x0b: "DID_SOFT_ERROR",
		0x0c: "DID_IMM_RETRY", 0x0d: "DID_REQUEUE", 0x0e: "DID_TRANSPORT_DISRUPTED",
		0x0f: "DID_TRANSPORT_FAILFAST", 0x11: "DID_TRANSPORT_MARGINAL",
	}
	if n, ok := names[h]; ok {
		return n
	}
	return "unknown"
}

// StatusError is a completed command whose status is neither GOOD nor a
// CHECK CONDITION with readable sense data (BUSY, RESERVATION CONFLICT, ...).
type StatusError struct {
	Op     string
	Status Status
	Detail string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s: %s", e.Op, e.Status)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}
