// Package mirror keeps a verified, complete copy of an audit store's log
// in a directory of its own, for long retention somewhere with tighter
// access than the store (`lethe audit mirror`).
//
// Each Update reads the store's latest signed checkpoint, checks its
// signature with the pinned log key, fetches every entry the copy lacks,
// checks each entry's countersignature, and proves that the entries held
// plus the new ones hash to the new signed root — which proves both that
// every new entry is the one the checkpoint commits to and that the new
// checkpoint extends the one held (consistency). Only then are the new
// entries, the hash tiles computed from them and the checkpoint written;
// anything else is an Inconsistency, and the copy is left as it was.
//
// The directory has the layout of a store's data directory (keys/,
// config.json, log/ in c2sp.org/tlog-tiles form), so `lethe audit
// verify-log --data` checks it offline and `lethe audit serve --data`
// serves it read-only for search and verification. Every checkpoint it
// accepted is kept under checkpoints/.
package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/audit/logverify"
	"github.com/lethe-project/lethe/internal/audit/dirlock"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/durable"
	"github.com/lethe-project/lethe/sign"
)

// Files in a mirror directory (the rest is a store's layout).
const (
	File       = "mirror.json"
	lockName   = "mirror.lock"
	logDir     = "log"
	vkeyFile   = "keys/log.vkey"
	pubFile    = "keys/server.pub"
	configFile = "config.json"
)

// Info is mirror.json.
type Info struct {
	Source  string    `json:"source"`
	Origin  string    `json:"origin"`
	Created time.Time `json:"created"`
}

// Inconsistency is what a mirror exists to catch: the store's log is not
// an append-only extension of the copy held, or does not match its own
// signed checkpoint. The copy is unchanged.
type Inconsistency struct{ Reason string }

func (e *Inconsistency) Error() string {
	return "INCONSISTENT: " + e.Reason + "; the mirror keeps its copy unchanged"
}

func inconsistent(format string, args ...any) error {
	return &Inconsistency{Reason: fmt.Sprintf(format, args...)}
}

// IsMirror reports whether dir holds a mirror.
func IsMirror(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, File))
	return err == nil
}

// Source is the store being mirrored.
type Source struct {
	URL string
	// Fetcher reads the store's log (its /v1/log/ tile API).
	Fetcher logverify.Fetcher
	// LogKey is the pinned verifier key (required to start a mirror; it
	// must match the one held afterwards).
	LogKey string
	// ReportedLogKey is the key the store says it uses (/v1/log/key); it
	// must be the pinned one.
	ReportedLogKey string
}

// Result says what one update did.
type Result struct {
	From, To   uint64
	Checkpoint *logverify.Checkpoint
}

// Update brings the mirror in dir up to the source's latest checkpoint,
// creating it on first use.
func Update(ctx context.Context, dir string, src Source) (*Result, error) {
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return nil, err
	}
	lk, err := dirlock.Acquire(dir, lockName, "another lethe audit mirror updates it")
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	vkey, err := loadOrInit(dir, src)
	if err != nil {
		return nil, err
	}
	pub, err := logverify.PublicKey(vkey)
	if err != nil {
		return nil, err
	}
	if src.ReportedLogKey != "" && strings.TrimSpace(src.ReportedLogKey) != vkey {
		return nil, inconsistent("the store reports log key %q, not the pinned %q", strings.TrimSpace(src.ReportedLogKey), vkey)
	}
	local := client.FileFetcher{Root: filepath.Join(dir, logDir)}
	held, err := heldCheckpoint(ctx, local, vkey)
	if err != nil {
		return nil, err
	}
	raw, err := src.Fetcher.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the store's checkpoint: %w", err)
	}
	cp, err := logverify.ParseCheckpoint(raw, vkey)
	if err != nil {
		return nil, inconsistent("the store's checkpoint does not verify with the pinned log key: %v", err)
	}
	res := &Result{From: held.Size, To: cp.Size, Checkpoint: cp}
	switch {
	case cp.Size < held.Size:
		return nil, inconsistent("the store's log has %d entries, the mirror holds %d: the log shrank", cp.Size, held.Size)
	case cp.Size == held.Size:
		if !bytes.Equal(cp.Hash, held.Hash) {
			return nil, inconsistent("two different signed roots for %d entries (held %x, store %x): history was rewritten", cp.Size, held.Hash, cp.Hash)
		}
		return res, nil
	}
	r, err := heldRange(ctx, local, held)
	if err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(dir, ".stage-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	var newHashes [][]byte
	write := func(rel string, data []byte) error {
		p := filepath.Join(stage, logDir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o644)
	}
	for bundle := held.Size / 256; bundle*256 < cp.Size; bundle++ {
		rawBundle, err := src.Fetcher.ReadEntryBundle(ctx, bundle, layout.PartialTileSize(0, bundle, cp.Size))
		if err != nil {
			return nil, fmt.Errorf("read entry bundle %d from the store: %w", bundle, err)
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(rawBundle); err != nil {
			return nil, inconsistent("entry bundle %d from the store is malformed: %v", bundle, err)
		}
		first := bundle * 256
		want := min(cp.Size-first, 256)
		if uint64(len(b.Entries)) < want {
			return nil, inconsistent("entry bundle %d from the store has %d entries, its checkpoint says %d", bundle, len(b.Entries), want)
		}
		if first < held.Size { // the partial bundle held: the store's must begin with it
			heldB, err := client.GetEntryBundle(ctx, local.ReadEntryBundle, bundle, held.Size)
			if err != nil {
				return nil, fmt.Errorf("the mirror's own bundle %d: %w", bundle, err)
			}
			for j := range held.Size - first {
				if !bytes.Equal(heldB.Entries[j], b.Entries[j]) {
					return nil, inconsistent("entry %d as the store serves it now differs from the copy held: history was rewritten", first+j)
				}
			}
		}
		for j := max(held.Size, first) - first; j < want; j++ {
			i := first + j
			if _, err := entry.Open(b.Entries[j], pub); err != nil {
				return nil, inconsistent("entry %d is not countersigned by the store's key: %v", i, err)
			}
			h := logverify.LeafHash(b.Entries[j])
			if err := r.Append(h, nil); err != nil {
				return nil, err
			}
			newHashes = append(newHashes, h)
		}
		if err := write(layout.EntriesPath(bundle, layout.PartialTileSize(0, bundle, cp.Size)), bundleBytes(b.Entries[:want])); err != nil {
			return nil, err
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(root, cp.Hash) {
		return nil, inconsistent("the %d entries held and the %d new ones hash to %x, but the store's signed checkpoint of %d entries says %x: the new checkpoint does not extend the one held (history was rewritten) or the store serves other entries than it signed",
			held.Size, cp.Size-held.Size, root, cp.Size, cp.Hash)
	}
	if err := buildTiles(ctx, local, held.Size, cp.Size, newHashes, write); err != nil {
		return nil, err
	}
	if err := commit(stage, dir); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%012d-%x.checkpoint", cp.Size, cp.Hash[:6])
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		return nil, err
	}
	if err := durable.WriteFile(filepath.Join(dir, "checkpoints", name), cp.Raw, 0o644); err != nil {
		return nil, err
	}
	if err := durable.WriteFile(filepath.Join(dir, logDir, "checkpoint"), cp.Raw, 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

func bundleBytes(entries [][]byte) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		b.Write([]byte{byte(len(e) >> 8), byte(len(e))})
		b.Write(e)
	}
	return b.Bytes()
}

// loadOrInit returns the mirror's pinned log key, creating the mirror on
// first use.
func loadOrInit(dir string, src Source) (string, error) {
	if b, err := os.ReadFile(filepath.Join(dir, vkeyFile)); err == nil && IsMirror(dir) {
		held := strings.TrimSpace(string(b))
		if src.LogKey != "" && strings.TrimSpace(src.LogKey) != held {
			return "", fmt.Errorf("--log-key %q is not the key this mirror pinned (%q)", strings.TrimSpace(src.LogKey), held)
		}
		return held, nil
	}
	if IsMirror(dir) {
		return "", fmt.Errorf("%s: mirror without %s", dir, vkeyFile)
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 2 { // keys/ and the lock
		return "", fmt.Errorf("%s is not empty and not a mirror: start a mirror in an empty directory", dir)
	}
	vkey := strings.TrimSpace(src.LogKey)
	if vkey == "" {
		return "", errors.New("a new mirror needs the store's log key, obtained out of band (--log-key DATA/keys/log.vkey)")
	}
	v, err := logverify.NoteVerifier(vkey)
	if err != nil {
		return "", err
	}
	pub, err := logverify.PublicKey(vkey)
	if err != nil {
		return "", err
	}
	if err := durable.WriteFile(filepath.Join(dir, vkeyFile), []byte(vkey+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := durable.WriteFile(filepath.Join(dir, pubFile), sign.MarshalPublicKey(pub), 0o644); err != nil {
		return "", err
	}
	cfg, _ := json.MarshalIndent(map[string]string{"origin": v.Name()}, "", "  ")
	if err := durable.WriteFile(filepath.Join(dir, configFile), append(cfg, '\n'), 0o644); err != nil {
		return "", err
	}
	info, _ := json.MarshalIndent(Info{Source: src.URL, Origin: v.Name(), Created: time.Now().UTC()}, "", "  ")
	if err := durable.WriteFile(filepath.Join(dir, File), append(info, '\n'), 0o644); err != nil {
		return "", err
	}
	return vkey, nil
}

// heldCheckpoint is the checkpoint of the copy held (size 0 for a new
// mirror).
func heldCheckpoint(ctx context.Context, local client.FileFetcher, vkey string) (*logverify.Checkpoint, error) {
	raw, err := local.ReadCheckpoint(ctx)
	if errors.Is(err, os.ErrNotExist) {
		v, _ := logverify.NoteVerifier(vkey)
		return &logverify.Checkpoint{Origin: v.Name(), Size: 0, Hash: rfc6962.DefaultHasher.EmptyRoot()}, nil
	}
	if err != nil {
		return nil, err
	}
	cp, err := logverify.ParseCheckpoint(raw, vkey)
	if err != nil {
		return nil, fmt.Errorf("the mirror's own checkpoint: %w", err)
	}
	return cp, nil
}

// heldRange rebuilds the compact Merkle range of the copy held from its
// own hash tiles and checks that it gives the held root.
func heldRange(ctx context.Context, local client.FileFetcher, held *logverify.Checkpoint) (*compact.Range, error) {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	if held.Size == 0 {
		return rf.NewEmptyRange(0), nil
	}
	nodes, err := client.FetchRangeNodes(ctx, held.Size, local.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("the mirror's own tiles: %w", err)
	}
	r, err := rf.NewRange(0, held.Size, nodes)
	if err != nil {
		return nil, err
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(root, held.Hash) {
		return nil, fmt.Errorf("the mirror's own tiles do not give its checkpoint's root: the copy was damaged locally (verify it with lethe audit verify-log --data)")
	}
	return r, nil
}

// buildTiles writes the hash tiles (c2sp.org/tlog-tiles) of the tree grown
// from oldSize to newSize, computed from the new leaf hashes and the
// mirror's own partial tiles: a tile at level L+1 holds the roots of full
// tiles at level L.
func buildTiles(ctx context.Context, local client.FileFetcher, oldSize, newSize uint64, leaves [][]byte, write func(string, []byte) error) error {
	nodes := leaves
	for level := uint64(0); len(nodes) > 0; level++ {
		before := oldSize >> (8 * level) // nodes at this tile level before the update
		after := newSize >> (8 * level)
		if uint64(len(nodes)) != after-before {
			return fmt.Errorf("tile level %d: %d new nodes for %d -> %d", level, len(nodes), before, after)
		}
		var row [][]byte // the nodes of the first touched tile, from its start
		if w := before % 256; w > 0 {
			raw, err := local.ReadTile(ctx, level, before/256, uint8(w))
			if err != nil {
				return fmt.Errorf("the mirror's own tile %d/%d: %w", level, before/256, err)
			}
			var t api.HashTile
			if err := t.UnmarshalText(raw); err != nil || uint64(len(t.Nodes)) != w {
				return fmt.Errorf("the mirror's own tile %d/%d is malformed", level, before/256)
			}
			row = t.Nodes
		}
		row = append(row, nodes...)
		var up [][]byte
		for t := before / 256; t*256 < after; t++ {
			start := t*256 - (before/256)*256
			end := min(start+256, uint64(len(row)))
			tile := row[start:end]
			if err := write(layout.TilePath(level, t, layout.PartialTileSize(level, t, newSize)), tileBytes(tile)); err != nil {
				return err
			}
			if len(tile) == 256 && (t+1)*256 > before {
				up = append(up, subtreeRoot(tile))
			}
		}
		nodes = up
	}
	return nil
}

func tileBytes(nodes [][]byte) []byte { return bytes.Join(nodes, nil) }

// subtreeRoot is the RFC 6962 root of a perfect tree of 256 nodes.
func subtreeRoot(level [][]byte) []byte {
	for len(level) > 1 {
		next := make([][]byte, len(level)/2)
		for i := range next {
			next[i] = rfc6962.DefaultHasher.HashChildren(level[2*i], level[2*i+1])
		}
		level = next
	}
	return level[0]
}

// commit moves the staged files into the mirror. No staged file replaces
// one the held checkpoint refers to (partial files carry their width in
// their name), so until the new checkpoint is written the copy held is
// intact.
func commit(stage, dir string) error {
	return filepath.WalkDir(stage, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(stage, p)
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
		return durable.Rename(p, dst)
	})
}
