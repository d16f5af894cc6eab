package wipe

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/durable"
)

// A firmware erase outlives the process that started it: a sanitize cannot
// be aborted and resumes after power loss, a failed sanitize may leave the
// drive refusing I/O until another one succeeds, and an interrupted ATA
// security erase leaves the drive locked with lethe's temporary password.
// So lethe persists each firmware job in the state directory before every
// step that changes the drive, and the next run for the same drive picks it
// up: it resumes polling, reuses the proof planted before, or unlocks the
// drive with the recorded password.

// Job phases, in order.
const (
	phasePrepared        = "prepared"         // proof planted, nothing sent yet
	phasePasswordPending = "password-pending" // about to send SECURITY SET PASSWORD
	phasePasswordSet     = "password-set"
	phaseSending         = "sending" // about to send the erase command
	phaseStarted         = "started" // the drive accepted it
	phaseFailed          = "failed"  // the drive reported failure; it may refuse I/O
)

// jobStateVersion is the job file format.
const jobStateVersion = 1

// jobState is one firmware job as persisted.
type jobState struct {
	Version   int         `json:"version"`
	ID        string      `json:"id"`
	Key       string      `json:"key"`
	Device    string      `json:"device"`
	Model     string      `json:"model,omitempty"`
	Serial    string      `json:"serial,omitempty"`
	Technique TechniqueID `json:"technique"`
	Phase     string      `json:"phase"`
	Created   time.Time   `json:"created"`
	Updated   time.Time   `json:"updated"`
	// The erase command as sent, to recognize it in the drive's status
	// after a restart.
	NVMeCDW10  uint32 `json:"nvmeCdw10,omitempty"`
	ATAFeature uint16 `json:"ataFeature,omitempty"`
	SCSIAction uint8  `json:"scsiAction,omitempty"`
	// Unrestricted: the sanitize was sent with AUSE / FAILURE MODE set.
	Unrestricted bool `json:"unrestricted,omitempty"`
	// Pattern is the 32-bit overwrite pattern of a sanitize overwrite.
	Pattern uint32 `json:"pattern,omitempty"`
	// GDEBefore is the NVMe Global Data Erased bit after the canaries were
	// planted; CompletedBefore the ATA "completed without error" bit.
	GDEBefore       bool `json:"gdeBefore,omitempty"`
	CompletedBefore bool `json:"completedBefore,omitempty"`
	// Password is the hex of the temporary ATA user password, written
	// before SECURITY SET PASSWORD is sent and removed once it is cleared.
	Password string `json:"password,omitempty"`
	// Evidence is the proof planted before the erase.
	Evidence *Evidence `json:"evidence,omitempty"`
	// Record is the firmware record so far, continued by the next run.
	Record *FirmwareRecord `json:"record,omitempty"`
}

// unfinished reports whether the drive may still be working on the job, or
// holds something of it (a password, a failure mode) the next run must deal
// with.
func (j *jobState) unfinished() bool {
	switch j.Phase {
	case phaseSending, phaseStarted, phaseFailed, phasePasswordPending, phasePasswordSet:
		return true
	}
	return j.Password != ""
}

var unsafeKey = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// jobKey names a drive's job file by the drive's identity, not its path
// (paths change across boots): WWN, else model and serial, else the path.
func jobKey(d *devices.Device) string {
	var k string
	switch {
	case d.WWN != "":
		k = "wwn-" + d.WWN
	case d.Serial != "":
		k = d.Model + "-" + d.Serial
	case d.BackingFile != "":
		k = "file-" + d.BackingFile
	default:
		k = "path-" + d.Path
	}
	return unsafeKey.ReplaceAllString(k, "_")
}

func jobPath(dir string, d *devices.Device) string {
	return filepath.Join(dir, "jobs", jobKey(d)+".json")
}

// loadJob returns the persisted job of d, or nil when there is none.
func loadJob(dir string, d *devices.Device) (*jobState, error) {
	data, err := os.ReadFile(jobPath(dir, d))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("job state: %w", err)
	}
	var j jobState
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("job state %s: %w", jobPath(dir, d), err)
	}
	if j.Version != jobStateVersion {
		return nil, fmt.Errorf("job state %s: version %d, this lethe reads %d", jobPath(dir, d), j.Version, jobStateVersion)
	}
	return &j, nil
}

// ensureStateDir creates the job directory and checks that it is writable.
func ensureStateDir(dir string) error {
	jd := filepath.Join(dir, "jobs")
	if err := os.MkdirAll(jd, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(jd, ".probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// saveJob writes j atomically and durably (temporary file, fsync, rename,
// fsync of the directory): the next step may cut the power.
func saveJob(dir string, d *devices.Device, j *jobState) error {
	j.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := durable.WriteFile(jobPath(dir, d), data, 0o600); err != nil {
		return fmt.Errorf("save job state: %w", err)
	}
	return nil
}

func removeJob(dir string, d *devices.Device) error {
	return durable.Remove(jobPath(dir, d))
}
