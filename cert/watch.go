package cert

import "time"

// Device watch results (WatchRecord.Result, schema 2).
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
