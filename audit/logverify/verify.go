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
