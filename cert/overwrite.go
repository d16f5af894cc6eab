package cert

import "time"

// Method is a host-overwrite scheme (or, after a firmware erase, the
// technique and its parameters, with no passes).
type Method struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Passes      []string `json:"passes"`
}

// PatternSpec says what a pass wrote, so that anyone can regenerate it.
type PatternSpec struct {
	// Kind is "bytes" (a repeated byte sequence) or "aes-128-ctr".
	Kind string `json:"kind"`
	// Name is how the operator named it: zero, one, random, 0xAA55, ...
	Name string `json:"name"`
	// Bytes (hex) is the repeated sequence for Kind "bytes"; the byte at
	// device offset o is Bytes[o mod len(Bytes)].
	Bytes string `json:"bytes,omitempty"`
	// Key and IV (hex) define the AES-128-CTR keystream for Kind
	// "aes-128-ctr": the 16 bytes at device offset 16*i are
	// AES-128(Key, IV + i), with IV+i a 128-bit big-endian sum (NIST SP
	// 800-38A §6.5), i.e. the output of
	//   openssl enc -aes-128-ctr -K KEY -iv IV < /dev/zero
	// The key protects nothing: it is disclosed so the pass can be checked.
	Key string `json:"key,omitempty"`
	IV  string `json:"iv,omitempty"`
}

// Pattern kinds.
const (
	PatternBytes     = "bytes"
	PatternAES128CTR = "aes-128-ctr"
)

// Range is a run of logical blocks (LBAs of the device's logical sector
// size).
type Range struct {
	LBA   int64  `json:"lba"`
	Count int64  `json:"count"`
	Error string `json:"error,omitempty"`
}

// IOInfo records how I/O was done, since it bears on what a read-back
// proves.
type IOInfo struct {
	// Direct is true when reads and writes bypassed the page cache.
	Direct     bool `json:"direct"`
	ChunkBytes int  `json:"chunkBytes"`
	Workers    int  `json:"workers"`
}

// PassReport is one overwrite pass.
type PassReport struct {
	Index        int         `json:"index"` // 1-based
	Pattern      PatternSpec `json:"pattern"`
	Started      time.Time   `json:"started"`
	Ended        time.Time   `json:"ended"`
	BytesWritten int64       `json:"bytesWritten"`
	Failed       []Range     `json:"failedRanges,omitempty"`
	// Aborted is set when the operator stopped the pass; Stopped says why
	// a pass ended early otherwise.
	Aborted bool   `json:"aborted,omitempty"`
	Stopped string `json:"stopped,omitempty"`
	// Verification is this pass's own read-back (verify mode all).
	Verification *VerifyReport `json:"verification,omitempty"`
}

// VerifyReport is one read-back and what it found.
type VerifyReport struct {
	// Scope is ScopeFull, ScopeSample or ScopeNone.
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
