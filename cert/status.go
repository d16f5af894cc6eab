package cert

// Status is the final state of a drive, as a certificate states it. A
// certificate never claims more than was done and verified:
//   - ERASED: the technique covered every user-addressable LBA and the
//     verification it was given passed;
//   - PARTIAL: the technique completed without errors but the evidence is
//     incomplete (verification off), so the result is not proven;
//   - FAILED: an LBA could not be written or read back, or verification
//     found old or wrong data: the drive goes to destruction;
//   - ABORTED: the run was stopped; part of the drive may hold old data.
type Status string

// Statuses.
const (
	StatusErased  Status = "ERASED"
	StatusPartial Status = "PARTIAL"
	StatusFailed  Status = "FAILED"
	StatusAborted Status = "ABORTED"
)

// Known reports whether s is one of the statuses above.
func (s Status) Known() bool {
	switch s {
	case StatusErased, StatusPartial, StatusFailed, StatusAborted:
		return true
	}
	return false
}

// Dispositions: where the media goes next.
const (
	DispositionReuse      = "reuse"       // after ERASED
	DispositionDestroy    = "destroy"     // after FAILED: NIST, media that cannot be sanitized is destroyed
	DispositionResanitize = "re-sanitize" // after ABORTED or PARTIAL
)

// DispositionFor is the disposition a certificate with status s states.
func DispositionFor(s Status) string {
	switch s {
	case StatusErased:
		return DispositionReuse
	case StatusFailed:
		return DispositionDestroy
	}
	return DispositionResanitize
}

// Category is a NIST SP 800-88 Rev. 2 sanitization outcome.
type Category string

// Categories, weakest first. "none" marks commands that look like erasure
// but are not (TRIM, Format NVM with SES=0).
const (
	CategoryNone  Category = "none"
	CategoryClear Category = "clear"
	CategoryPurge Category = "purge"
)

// rank orders categories by strength; unknown ones rank below none.
func (c Category) rank() int {
	switch c {
	case CategoryNone:
		return 0
	case CategoryClear:
		return 1
	case CategoryPurge:
		return 2
	}
	return -1
}

// AtMost reports whether c claims no more than limit.
func (c Category) AtMost(limit Category) bool { return c.rank() >= 0 && c.rank() <= limit.rank() }

// VerifyResult is the outcome of a read-back.
type VerifyResult string

// Read-back outcomes.
const (
	VerifyPassed  VerifyResult = "passed"
	VerifyFailed  VerifyResult = "failed"
	VerifyAborted VerifyResult = "aborted"
	VerifySkipped VerifyResult = "skipped"
)

// Verification scopes.
const (
	ScopeFull   = "full"   // every byte read back
	ScopeSample = "sample" // the units of a Sample read back
	ScopeNone   = "none"   // nothing read back
)
