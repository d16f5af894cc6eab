package logverify

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
)

// Checkpoint is a signed checkpoint (c2sp.org/tlog-checkpoint) whose
// signature has been verified.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   []byte
	// Raw is the signed note as published.
	Raw []byte
}

// ErrInconsistent means two checkpoints cannot both be views of one
// append-only log: history was rewritten.
var ErrInconsistent = errors.New("log history was rewritten: checkpoints are not consistent")

// ParseCheckpoint verifies a signed checkpoint with the log's verifier key.
// The origin is the key's name.
func ParseCheckpoint(raw []byte, vkey string) (*Checkpoint, error) {
	v, err := NoteVerifier(vkey)
	if err != nil {
		return nil, err
	}
	cp, _, _, err := log.ParseCheckpoint(raw, v.Name(), v)
	if err != nil {
		return nil, fmt.Errorf("checkpoint does not verify with the log key %s: %w", v.Name(), err)
	}
	return &Checkpoint{Origin: cp.Origin, Size: cp.Size, Hash: cp.Hash, Raw: raw}, nil
}

// LeafHash is the RFC 6962 §2.1 leaf hash of an entry: SHA-256(0x00 || data).
func LeafHash(data []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(data) }

// VerifyInclusion checks that data is the entry at index in the tree the
// checkpoint commits to (RFC 6962 §2.1.1 audit path).
func VerifyInclusion(cp *Checkpoint, index uint64, data []byte, path [][]byte) error {
	if index >= cp.Size {
		return fmt.Errorf("entry %d is outside the checkpoint's tree of size %d", index, cp.Size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, LeafHash(data), path, cp.Hash); err != nil {
		return fmt.Errorf("inclusion proof for entry %d in tree of size %d: %w", index, cp.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of checkpoint newer extends the
// tree of older without changing it (RFC 6962 §2.1.2). A failure wraps
// ErrInconsistent.
func VerifyConsistency(older, newer *Checkpoint, path [][]byte) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("checkpoints are from different logs (%s, %s)", older.Origin, newer.Origin)
	}
	if newer.Size < older.Size {
		return fmt.Errorf("%w: newer checkpoint has size %d, smaller than %d", ErrInconsistent, newer.Size, older.Size)
	}
	if newer.Size == older.Size {
		if !bytes.Equal(newer.Hash, older.Hash) {
			return fmt.Errorf("%w: two different roots for size %d", ErrInconsistent, older.Size)
		}
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, path, older.Hash, newer.Hash); err != nil {
		return fmt.Errorf("%w: sizes %d -> %d: %v", ErrInconsistent, older.Size, newer.Size, err)
	}
	return nil
}

// Fetcher reads a log's tiles and entry bundles (c2sp.org/tlog-tiles): a
// tessera.LogReader, a client.HTTPFetcher or a client.FileFetcher.
type Fetcher interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

// ConsistencyProof builds a proof between two tree sizes from f's tiles.
func ConsistencyProof(ctx context.Context, f Fetcher, smaller, larger uint64) ([][]byte, error) {
	if smaller == 0 || smaller == larger {
		return nil, nil
	}
	pb, err := client.NewProofBuilder(ctx, larger, f.ReadTile)
	if err != nil {
		return nil, err
	}
	return pb.ConsistencyProof(ctx, smaller, larger)
}

// InclusionProof builds the audit path of index in the tree of size from
// f's tiles.
func InclusionProof(ctx context.Context, f Fetcher, index, size uint64) ([][]byte, error) {
	pb, err := client.NewProofBuilder(ctx, size, f.ReadTile)
	if err != nil {
		return nil, err
	}
	return pb.InclusionProof(ctx, index)
}

// Entries calls visit for every entry of the tree of the given size, in
// order, and checks that the entries hash to root: the whole-log
// re-verification that detects any altered or missing entry.
func Entries(ctx context.Context, f Fetcher, size uint64, root []byte, visit func(index uint64, data []byte) error) error {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	var i uint64
	for bundle := uint64(0); i < size; bundle++ {
		b, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, bundle, size)
		if err != nil {
			return fmt.Errorf("entry bundle %d: %w", bundle, err)
		}
		if len(b.Entries) == 0 {
			return fmt.Errorf("entry bundle %d is empty", bundle)
		}
		for _, e := range b.Entries {
			if i >= size {
				break
			}
			if err := r.Append(LeafHash(e), nil); err != nil {
				return err
			}
			if visit != nil {
				if err := visit(i, e); err != nil {
					return err
				}
			}
			i++
		}
	}
	got := rfc6962.DefaultHasher.EmptyRoot()
	if size > 0 {
		var err error
		if got, err = r.GetRootHash(nil); err != nil {
			return err
		}
	}
	if !bytes.Equal(got, root) {
		return fmt.Errorf("the %d entries hash to root %x, but the checkpoint says %x: entries were altered", size, got, root)
	}
	return nil
}

// AlteredError locates a log that does not match its signed checkpoint.
type AlteredError struct {
	// Entry is the first entry found altered, or -1 when only a range is
	// known (Bundle).
	Entry  int64
	Bundle uint64
	Reason string
}

func (e *AlteredError) Error() string {
	if e.Entry >= 0 {
		return fmt.Sprintf("log entry %d (entry bundle %d) was altered: %s", e.Entry, e.Bundle, e.Reason)
	}
	return fmt.Sprintf("the log was altered at entry bundle %d (entries %d-%d): %s", e.Bundle, e.Bundle*256, e.Bundle*256+255, e.Reason)
}

// Audit re-verifies a whole log against its signed checkpoint cp, and
// says where it does not match. Every entry is read as the log serves it
// and hashed: each leaf hash must equal the one in the level-0 hash tile,
// each full bundle's subtree root the one in the level-1 tile, and all the
// entries together must give the checkpoint's root. When prev (a
// checkpoint verified earlier) is given, the first prev.Size entries must
// also give prev's root: the log was only ever appended to.
func Audit(ctx context.Context, f Fetcher, cp, prev *Checkpoint) error {
	if prev != nil && prev.Size > cp.Size {
		return fmt.Errorf("%w: the log has %d entries, but a checkpoint of %d entries was verified earlier: the log was rolled back", ErrInconsistent, cp.Size, prev.Size)
	}
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	var l1 [][]byte
	l1Index := ^uint64(0)
	for bundle := uint64(0); bundle*256 < cp.Size; bundle++ {
		b, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, bundle, cp.Size)
		if err != nil {
			return &AlteredError{Entry: -1, Bundle: bundle, Reason: err.Error()}
		}
		want := min(cp.Size-bundle*256, 256)
		if uint64(len(b.Entries)) < want {
			return &AlteredError{Entry: -1, Bundle: bundle, Reason: fmt.Sprintf("the bundle holds %d entries, the checkpoint says %d", len(b.Entries), want)}
		}
		tile, err := readTile(ctx, f, 0, bundle, cp.Size)
		if err != nil {
			return &AlteredError{Entry: -1, Bundle: bundle, Reason: "hash tile: " + err.Error()}
		}
		sub := rf.NewEmptyRange(0) // the subtree of this bundle alone: its root does not depend on where it sits
		for j := uint64(0); j < want; j++ {
			i := bundle*256 + j
			h := LeafHash(b.Entries[j])
			if j >= uint64(len(tile)) || !bytes.Equal(tile[j], h) {
				return &AlteredError{Entry: int64(i), Bundle: bundle, Reason: "its hash differs from the log's hash tile"}
			}
			if err := r.Append(h, nil); err != nil {
				return err
			}
			if err := sub.Append(h, nil); err != nil {
				return err
			}
			if prev != nil && i+1 == prev.Size {
				if err := checkRoot(r, prev); err != nil {
					return err
				}
			}
		}
		if want == 256 {
			if bundle/256 != l1Index {
				l1Index = bundle / 256
				if l1, err = readTile(ctx, f, 1, l1Index, cp.Size); err != nil {
					return &AlteredError{Entry: -1, Bundle: bundle, Reason: "level-1 hash tile: " + err.Error()}
				}
			}
			root, err := sub.GetRootHash(nil)
			if err != nil {
				return err
			}
			if bundle%256 >= uint64(len(l1)) || !bytes.Equal(l1[bundle%256], root) {
				return &AlteredError{Entry: -1, Bundle: bundle, Reason: "the bundle and its hash tile were altered together: their root differs from the level-1 tile"}
			}
		}
	}
	if prev != nil && prev.Size == 0 && len(prev.Hash) > 0 && !bytes.Equal(prev.Hash, rfc6962.DefaultHasher.EmptyRoot()) {
		return fmt.Errorf("%w: the empty checkpoint verified earlier has a non-empty root", ErrInconsistent)
	}
	if err := checkRoot(r, cp); err != nil {
		return &AlteredError{Entry: -1, Bundle: (cp.Size - 1) / 256, Reason: err.Error()}
	}
	return nil
}

func checkRoot(r *compact.Range, cp *Checkpoint) error {
	got := rfc6962.DefaultHasher.EmptyRoot()
	if r.End() > 0 {
		var err error
		if got, err = r.GetRootHash(nil); err != nil {
			return err
		}
	}
	if !bytes.Equal(got, cp.Hash) {
		return fmt.Errorf("%w: the first %d entries hash to root %x, but the signed checkpoint of that size says %x", ErrInconsistent, cp.Size, got, cp.Hash)
	}
	return nil
}

// readTile reads the hash tile (level, index) of a tree of size size.
func readTile(ctx context.Context, f Fetcher, level, index, size uint64) ([][]byte, error) {
	raw, err := f.ReadTile(ctx, level, index, layout.PartialTileSize(level, index, size))
	if err != nil {
		return nil, err
	}
	var t api.HashTile
	if err := t.UnmarshalText(raw); err != nil {
		return nil, err
	}
	return t.Nodes, nil
}
