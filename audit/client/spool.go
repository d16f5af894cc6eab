package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lethe-project/lethe/sign"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/durable"
)

// Spool is a durable outbox of certificates on local disk:
//
//	DIR/pending/<sha256>.json           not yet accepted by the store
//	DIR/sent/<sha256>.json              accepted, with <sha256>.receipt.json
//	DIR/rejected/<sha256>.json          refused, with <sha256>.error.txt
//
// Add makes a certificate durable (fsync) before it returns, and a
// certificate leaves pending/ only after the store's receipt is safely on
// disk, so a crash or an unreachable store loses nothing.
type Spool struct {
	dir string
	c   *Client
}

// OpenSpool opens (creating) a spool directory that submits through c.
func OpenSpool(dir string, c *Client) (*Spool, error) {
	for _, d := range []string{"pending", "sent", "rejected"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	return &Spool{dir: dir, c: c}, nil
}

// Dir is the spool directory.
func (s *Spool) Dir() string { return s.dir }

// Item is a spooled certificate.
type Item struct {
	ID   string // hex SHA-256 of the canonical envelope
	Path string
}

// Add puts a certificate envelope into the spool. Adding the same
// certificate twice is harmless.
func (s *Spool) Add(envelope []byte) (Item, error) {
	canon, err := entry.Canonical(envelope)
	if err != nil {
		return Item{}, fmt.Errorf("spool: %w", err)
	}
	id := entry.Digest(canon)
	p := filepath.Join(s.dir, "pending", id+".json")
	if _, err := os.Stat(filepath.Join(s.dir, "sent", id+".json")); err == nil {
		return Item{ID: id, Path: filepath.Join(s.dir, "sent", id+".json")}, nil
	}
	if err := durable.WriteFile(p, envelope, 0o600); err != nil {
		return Item{}, fmt.Errorf("spool: %w", err)
	}
	return Item{ID: id, Path: p}, nil
}

// Pending lists certificates not yet accepted by the store, oldest first.
func (s *Spool) Pending() ([]Item, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "pending"))
	if err != nil {
		return nil, err
	}
	type it struct {
		Item
		t time.Time
	}
	var out []it
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, it{Item{ID: strings.TrimSuffix(e.Name(), ".json"), Path: filepath.Join(s.dir, "pending", e.Name())}, info.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].t.Before(out[j].t) })
	items := make([]Item, len(out))
	for i := range out {
		items[i] = out[i].Item
	}
	return items, nil
}

// Receipt reads the receipt of a sent certificate.
func (s *Spool) Receipt(id string) (*receipt.Receipt, error) {
	return receipt.Load(filepath.Join(s.dir, "sent", id+".receipt.json"))
}

// FlushResult counts what one pass over the spool did.
type FlushResult struct {
	Sent     []Item
	Rejected []Rejection
	Pending  int // still pending (transient failures)
	// LastError is the last transient error, if any.
	LastError error
}

// Rejection is a certificate the store refused.
type Rejection struct {
	Item
	Err error
}

// Flush submits every pending certificate once. Certificates the store
// refuses move to rejected/ (retrying cannot help); those that fail for
// transient reasons (store down, server error) stay pending.
func (s *Spool) Flush(ctx context.Context) (FlushResult, error) {
	var res FlushResult
	items, err := s.Pending()
	if err != nil {
		return res, err
	}
	for _, it := range items {
		if ctx.Err() != nil {
			res.Pending++
			continue
		}
		env, err := sign.ReadFile(it.Path)
		if err != nil {
			return res, err
		}
		rc, err := s.c.Submit(ctx, env)
		switch {
		case err == nil:
			b, _ := json.MarshalIndent(rc, "", "  ")
			if err := durable.WriteFile(filepath.Join(s.dir, "sent", it.ID+".receipt.json"), append(b, '\n'), 0o600); err != nil {
				return res, err
			}
			if err := durable.Rename(it.Path, filepath.Join(s.dir, "sent", it.ID+".json")); err != nil {
				return res, err
			}
			res.Sent = append(res.Sent, it)
		case IsPermanent(err):
			msg := err.Error()
			var e *Error
			if errors.As(err, &e) && len(e.Problems) > 0 {
				msg += "\n" + strings.Join(e.Problems, "\n")
			}
			if err := durable.WriteFile(filepath.Join(s.dir, "rejected", it.ID+".error.txt"), []byte(msg+"\n"), 0o600); err != nil {
				return res, err
			}
			if err := durable.Rename(it.Path, filepath.Join(s.dir, "rejected", it.ID+".json")); err != nil {
				return res, err
			}
			res.Rejected = append(res.Rejected, Rejection{it, err})
		default:
			res.Pending++
			res.LastError = err
		}
	}
	return res, nil
}

// Retry is how FlushRetry backs off.
type Retry struct {
	Initial, Max time.Duration
}

// FlushRetry flushes until nothing is pending or ctx ends, backing off
// between passes. It returns the combined result.
func (s *Spool) FlushRetry(ctx context.Context, r Retry) (FlushResult, error) {
	if r.Initial <= 0 {
		r.Initial = time.Second
	}
	if r.Max < r.Initial {
		r.Max = 30 * time.Second
	}
	var total FlushResult
	wait := r.Initial
	for {
		res, err := s.Flush(ctx)
		total.Sent = append(total.Sent, res.Sent...)
		total.Rejected = append(total.Rejected, res.Rejected...)
		total.Pending, total.LastError = res.Pending, res.LastError
		if err != nil || res.Pending == 0 {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, nil
		case <-time.After(wait):
		}
		wait = min(wait*2, r.Max)
	}
}
