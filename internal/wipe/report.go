package wipe

import "time"

// Status is the final state of a drive, as a certificate states it.
type Status string

// Statuses. A certificate never claims more than was done and verified:
//   - ERASED: the technique covered every user-addressable LBA and
//     verification passed;
//   - PARTIAL: the technique completed without errors but the evidence is
//     incomplete (verification off), so the result is not proven;
//   - FAILED: an LBA could not be written or read back, or verification
//     found old or wrong data: the drive goes to destruction;
//   - ABORTED: the operator stopped the run; part of the drive may still
//     hold old data.
const (
	StatusErased  Status = "ERASED"
	StatusPartial Status = "PARTIAL"
	StatusFailed  Status = "FAILED"
	StatusAborted Status = "ABORTED"
)

// Succeeded reports whether a run with these drive statuses succeeded: only
// when every drive is ERASED (DESIGN.md §7: exit 0 only then). PARTIAL (not
// verified, or another writer or a change of the device seen), FAILED and
// ABORTED are not success, and neither is an empty run. The CLI and the
// agent decide their exit status and PASS/FAIL with it.
func Succeeded(statuses ...Status) bool {
	for _, s := range statuses {
		if s != StatusErased {
			return false
		}
	}
	return len(statuses) > 0
}

// Report is what a sanitization did, in enough detail for a certificate.
type Report struct {
	Status       Status      `json:"status"`
	StatusReason string      `json:"statusReason"`
	Technique    TechniqueID `json:"technique"`
	Category     Category    `json:"category"`
	Method       Method      `json:"method"`
	// Decision records why this technique was chosen, one line per step
	// of the planner (policy, capabilities seen, fallbacks).
	Decision   []string     `json:"decision,omitempty"`
	SizeBytes  int64        `json:"sizeBytes"`
	SectorSize int          `json:"sectorSize"`
	Started    time.Time    `json:"started"`
	Ended      time.Time    `json:"ended"`
	IO         IOInfo       `json:"io"`
	Passes     []PassReport `json:"passes"`
	// Verification is the read-back that decides the status: of the last
	// pass (modes last and sample), or of every pass (mode all, where each
	// PassReport carries its own and this is the last one). After a
	// firmware erase it is the read-back against the content the technique
	// implies, where one is defined.
	Verification VerifyReport `json:"verification"`
	// Firmware is set for firmware techniques: commands, observed states,
	// timings, the proof.
	Firmware *FirmwareRecord `json:"firmware,omitempty"`
	// HiddenAreas is set when lethe inspected an ATA drive's HPA/DCO.
	HiddenAreas *HiddenAreasRecord `json:"hiddenAreas,omitempty"`
	// Capacity compares the drive's own capacity with the OS view, where
	// pass-through was possible.
	Capacity []CapacityCheck `json:"capacity,omitempty"`
	// Watch is what lethe observed of the device around a host overwrite
	// beyond its own I/O: writes by other programs, and changes of size
	// or identity (nil where nothing was watched, e.g. in-memory targets).
	Watch *WatchRecord `json:"watch,omitempty"`
}

// Watch results.
const (
	WatchPassed      = "passed"      // nothing found, within the limits listed
	WatchFailed      = "failed"      // a write lethe did not make, or a change of the device, was found
	WatchUnavailable = "unavailable" // the check could not be made
)

// WatchRecord is what lethe checked, beyond its own reads and writes, to
// know that nobody else changed the device between the start of the first
// pass and the end of the last read, and that it stayed the same device of
// the same size. O_EXCL keeps mounts and exclusive openers out, not a
// program that opens the device and writes; the kernel's counters and the
// file's change time show such writes afterwards. Limits says, in words,
// what these checks cannot see.
type WatchRecord struct {
	Result  string    `json:"result"`
	Started time.Time `json:"started"` // counters sampled, before the first pass
	Ended   time.Time `json:"ended"`   // and after the last read
	// OwnSectorsWritten and OwnSectorsSubmitted are lethe's own writes in
	// the window, in 512-byte units: those that succeeded, and everything
	// it passed to write calls (failed and retried ones included). With
	// no other writer the kernel counts between the two.
	OwnSectorsWritten   int64 `json:"ownSectorsWritten"`
	OwnSectorsSubmitted int64 `json:"ownSectorsSubmitted"`
	// Counters are the kernel's write counters that were compared.
	Counters []CounterCheck `json:"counters,omitempty"`
	// ChangeTime is the change-time (ctime) check of an image file or a
	// loop device's backing file.
	ChangeTime *ChangeTimeCheck `json:"changeTime,omitempty"`
	// SizeBefore and SizeAfter are the device's size at the start and as
	// the open device and sysfs report it after the last read.
	SizeBefore int64 `json:"sizeBytesBefore"`
	SizeAfter  int64 `json:"sizeBytesAfter"`
	// Changes lists every change of size or identity found.
	Changes []string `json:"changes,omitempty"`
	// Problems says why Result is not "passed".
	Problems []string `json:"problems,omitempty"`
	// Limits says what the checks above cannot see.
	Limits []string `json:"limits"`
}

// CounterCheck is one block device's write counters before and after,
// from /sys/block/NAME/stat (512-byte sectors).
type CounterCheck struct {
	Source string `json:"source"` // the sysfs file
	// Role is why this device was watched: "the device" (lethe's own
	// writes count here) or "another loop device on the same file".
	Role                   string `json:"role"`
	SectorsWrittenBefore   uint64 `json:"sectorsWrittenBefore"`
	SectorsWrittenAfter    uint64 `json:"sectorsWrittenAfter"`
	SectorsDiscardedBefore uint64 `json:"sectorsDiscardedBefore"`
	SectorsDiscardedAfter  uint64 `json:"sectorsDiscardedAfter"`
	// ForeignSectors is what the counters saw beyond what lethe
	// submitted: written sectors above OwnSectorsSubmitted (on the device
	// itself; all of them elsewhere) plus all discarded sectors.
	ForeignSectors int64 `json:"foreignSectors"`
}

// ChangeTimeCheck compares a file's change time (ctime, which every write
// sets and no program can set back) after lethe's last write with the one
// after its last read.
type ChangeTimeCheck struct {
	File           string    `json:"file"`
	AfterLastWrite time.Time `json:"afterLastWrite"`
	AfterLastRead  time.Time `json:"afterLastRead"`
}

// IOInfo records how I/O was done, since it bears on what a read-back proves.
type IOInfo struct {
	// Direct is true when reads and writes bypassed the page cache.
	Direct     bool `json:"direct"`
	ChunkBytes int  `json:"chunkBytes"`
	Workers    int  `json:"workers"`
}

// PassReport is one overwrite pass.
type PassReport struct {
	Index        int           `json:"index"` // 1-based
	Pattern      PatternSpec   `json:"pattern"`
	Started      time.Time     `json:"started"`
	Ended        time.Time     `json:"ended"`
	BytesWritten int64         `json:"bytesWritten"`
	Failed       []Range       `json:"failedRanges,omitempty"`
	Aborted      bool          `json:"aborted,omitempty"`
	Stopped      string        `json:"stopped,omitempty"`
	Verification *VerifyReport `json:"verification,omitempty"`
}

// VerifyResult is the outcome of a read-back.
type VerifyResult string

// Read-back outcomes.
const (
	VerifyPassed  VerifyResult = "passed"
	VerifyFailed  VerifyResult = "failed"
	VerifyAborted VerifyResult = "aborted"
	VerifySkipped VerifyResult = "skipped"
)

// VerifyReport is one read-back and what it found.
type VerifyReport struct {
	// Scope is "full" (every byte), "sample" or "none".
	Scope    string       `json:"scope"`
	Pass     int          `json:"pass,omitempty"` // the pass read back, 1-based
	Expected PatternSpec  `json:"expected"`
	Started  time.Time    `json:"started"`
	Ended    time.Time    `json:"ended"`
	Direct   bool         `json:"direct"`
	Bytes    int64        `json:"bytesRead"`
	Coverage float64      `json:"coveragePct"`
	Sample   *Sample      `json:"sample,omitempty"`
	Result   VerifyResult `json:"result"`
	// MismatchedSectors counts sectors that read back with other content
	// than the pattern; Mismatched lists the first ranges of them.
	MismatchedSectors int64   `json:"mismatchedSectors"`
	Mismatched        []Range `json:"mismatchedRanges,omitempty"`
	Unreadable        []Range `json:"unreadableRanges,omitempty"`
	Stopped           string  `json:"stopped,omitempty"`
}
