package store

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/logverify"

	"github.com/lethe-project/lethe/sign"

	"github.com/transparency-dev/tessera/client"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/audit/db"
	"github.com/lethe-project/lethe/internal/audit/entry"
)

// Backup writes a consistent snapshot of an embedded (POSIX + SQLite)
// store as a gzipped tar: keys, configuration, TLS certificate, the index
// and the log up to one checkpoint. It runs while the store serves.
//
// Order matters: the index is copied first, so every entry it names is
// already in a checkpoint; then the checkpoint is read; then the log files
// are copied, with the tree state pinned to that checkpoint. A restored
// store indexes any later entries from the log itself.
func (s *Store) Backup(ctx context.Context, w io.Writer) (*logverify.Checkpoint, error) {
	if s.cfg.MySQLDSN != "" {
		return nil, errors.New("backup: this store keeps its log and index in MySQL; back up the database with mariadb-backup or mariadb-dump, and the data directory's keys/")
	}
	if s.readOnly {
		return nil, errors.New("backup: this is a mirror; copy its directory (lethe audit verify-log --data checks the copy)")
	}
	stage, err := os.MkdirTemp(s.cfg.Dir, ".backup-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	if _, err := s.DB.ExecContext(ctx, `VACUUM INTO ?`, filepath.Join(stage, indexFile)); err != nil {
		return nil, fmt.Errorf("backup: snapshot index: %w", err)
	}
	var cp *logverify.Checkpoint
	for attempt := 0; ; attempt++ {
		if cp, err = s.log.Checkpoint(ctx); err != nil {
			return nil, err
		}
		logStage := filepath.Join(stage, logDir)
		os.RemoveAll(logStage)
		if err = copyTree(filepath.Join(s.cfg.Dir, logDir), logStage, func(rel string) bool { return !strings.HasSuffix(rel, ".lock") }); err != nil {
			return nil, fmt.Errorf("backup: copy log: %w", err)
		}
		if err = pinLog(logStage, cp); err != nil {
			return nil, err
		}
		// Tessera may replace a partial tile by a full one while we copy;
		// check the copy is complete and try again if not.
		err = logverify.Entries(ctx, client.FileFetcher{Root: logStage}, cp.Size, cp.Hash, nil)
		if err == nil {
			break
		}
		if attempt == 4 {
			return nil, fmt.Errorf("backup: log copy incomplete: %w", err)
		}
	}
	for _, p := range []string{keyFile, pubFile, vkeyFile, configFile, "tls/cert.pem", "tls/key.pem"} {
		if err := copyFile(filepath.Join(s.cfg.Dir, p), filepath.Join(stage, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return cp, writeTarGz(w, stage)
}

// pinLog makes a copied log directory describe exactly the tree of cp.
func pinLog(dir string, cp *logverify.Checkpoint) error {
	if err := os.WriteFile(filepath.Join(dir, "checkpoint"), cp.Raw, 0o644); err != nil {
		return err
	}
	ts, _ := json.Marshal(struct {
		Size uint64 `json:"size"`
		Root []byte `json:"root"`
	}{cp.Size, cp.Hash})
	return os.WriteFile(filepath.Join(dir, ".state", "treeState"), ts, 0o644)
}

// BackupFile writes a backup into the configured backup directory as
// lethe-audit-<UTC time>.tar.gz and removes backups older than the
// configured retention (Config.BackupKeep): the one setting every backup
// the store writes honours.
func (s *Store) BackupFile(ctx context.Context) (string, error) {
	dir, keep := s.cfg.BackupDir, s.cfg.BackupKeep
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	now := s.now().UTC()
	name := filepath.Join(dir, "lethe-audit-"+now.Format("20060102T150405Z")+".tar.gz")
	f, err := os.OpenFile(name+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	cp, err := s.Backup(ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name+".tmp", name)
	}
	if err != nil {
		os.Remove(name + ".tmp")
		_ = s.event(ctx, entry.TypeServer+".backup", Actor{Name: "server"}, "backup", entry.ResultFailure, err.Error())
		return "", err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "lethe-audit-*.tar.gz"))
	var removed []string
	for _, p := range old {
		t, err := time.Parse("20060102T150405Z", strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "lethe-audit-"), ".tar.gz"))
		if err == nil && now.Sub(t) > keep {
			if os.Remove(p) == nil {
				removed = append(removed, filepath.Base(p))
			}
		}
	}
	detail := fmt.Sprintf("%s, log size %d, retention %s", filepath.Base(name), cp.Size, keep)
	if len(removed) > 0 {
		detail += "; expired: " + strings.Join(removed, ", ")
	}
	return name, s.event(ctx, entry.TypeServer+".backup", Actor{Name: "server"}, "backup", entry.ResultSuccess, detail)
}

// Restore unpacks a backup into dir, which must be empty or absent, and
// verifies the restored log in full — against the pinned keys in opts
// when given, never only the backup's own.
func Restore(ctx context.Context, r io.Reader, dir string, opts VerifyOptions) (*VerifyReport, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("restore: %s is not empty; restore into an empty directory", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := readTarGz(r, dir); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return VerifyDir(ctx, dir, opts)
}

// VerifyOptions pin the keys a data directory is checked against.
type VerifyOptions struct {
	// LogKey is the log's signed-note verifier key, obtained out of band.
	// When set, it is the key checked — the directory's own keys must
	// agree with it — and the server key is the one it names. When empty,
	// the directory's own keys are used (which proves integrity, not
	// authenticity: the report says so).
	LogKey string
}

// VerifyReport is the outcome of a whole-log verification.
type VerifyReport struct {
	Checkpoint   *logverify.Checkpoint
	Entries      uint64
	Certificates int
	Validations  int
	Events       int
	Keys         int // keys recorded in the log
	// LegacyKeys counts certificates signed by a key trusted before keys
	// were logged: the log records it after them (written at upgrade), or
	// only the index holds it.
	LegacyKeys int
	// Unindexed counts certificates in the log the index lacks (a store
	// adds them on its next start).
	Unindexed int
	// Pinned is set when the keys were pinned (VerifyOptions.LogKey).
	Pinned bool
}

// VerifyDir re-verifies a data directory (a store's, a restored backup's
// or a mirror's) offline: the checkpoint's signature, that the entries
// hash to its root, every entry's countersignature, every certificate's
// signature against the key it was accepted under — taken from the key
// entries in the log itself — and that validations refer to logged
// certificates.
func VerifyDir(ctx context.Context, dir string, opts VerifyOptions) (*VerifyReport, error) {
	vkey := strings.TrimSpace(opts.LogKey)
	own, err := os.ReadFile(filepath.Join(dir, vkeyFile))
	if err != nil && vkey == "" {
		return nil, err
	}
	if vkey == "" {
		vkey = strings.TrimSpace(string(own))
	} else if len(own) > 0 && strings.TrimSpace(string(own)) != vkey {
		return nil, fmt.Errorf("%s holds log key %q, not the pinned %q: this is another log (or its keys were replaced)", filepath.Join(dir, vkeyFile), strings.TrimSpace(string(own)), vkey)
	}
	pub, err := logverify.PublicKey(vkey)
	if err != nil {
		return nil, err
	}
	if dpub, err := sign.LoadPublicKey(filepath.Join(dir, pubFile)); err == nil && !dpub.Equal(pub) {
		return nil, fmt.Errorf("%s is not the server key the log key names: the directory's keys were replaced", filepath.Join(dir, pubFile))
	}
	f := client.FileFetcher{Root: filepath.Join(dir, logDir)}
	raw, err := f.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	cp, err := logverify.ParseCheckpoint(raw, vkey)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{Checkpoint: cp, Entries: cp.Size, Pinned: opts.LogKey != ""}
	var index *sql.DB
	if _, err := os.Stat(filepath.Join(dir, indexFile)); err == nil {
		if index, err = db.OpenSQLiteReadOnly(filepath.Join(dir, indexFile)); err != nil {
			return nil, err
		}
		defer index.Close()
	}
	keys := map[string]ed25519.PublicKey{}
	certs := map[string]uint64{}
	type pendingCert struct {
		i    uint64
		c    *entry.Certificate
		late bool // its key was not recorded before it
	}
	var pending []pendingCert
	err = logverify.Entries(ctx, f, cp.Size, cp.Hash, func(i uint64, leaf []byte) error {
		e, err := entry.Open(leaf, pub)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		switch {
		case e.Key != nil:
			if e.Key.PublicKey != "" {
				k, err := sign.ParsePublicKey([]byte(e.Key.PublicKey))
				if err != nil {
					return fmt.Errorf("entry %d: key %.16s: %w", i, e.Key.KeyID, err)
				}
				if sign.KeyID(k) != e.Key.KeyID {
					return fmt.Errorf("entry %d: key ID %.16s does not match its public key", i, e.Key.KeyID)
				}
				keys[e.Key.KeyID] = k
				rep.Keys++
			}
			rep.Events++
		case e.Certificate != nil:
			if entry.Digest(e.Certificate.Envelope) != e.Certificate.EnvelopeSHA256 {
				return fmt.Errorf("entry %d: envelope digest mismatch", i)
			}
			// Verified at the end, when every key the log records is
			// known: keys trusted before keys were logged are recorded
			// after the certificates they signed.
			pending = append(pending, pendingCert{i, e.Certificate, keys[e.Certificate.SignerKeyID] == nil})
			certs[e.Certificate.CertificateID] = i
			rep.Certificates++
		case e.Validation != nil:
			if j, ok := certs[e.Validation.CertificateID]; !ok || j != e.Validation.CertificateIndex {
				return fmt.Errorf("entry %d: validation of certificate %s which is not at entry %d", i, e.Validation.CertificateID, e.Validation.CertificateIndex)
			}
			rep.Validations++
		default:
			rep.Events++
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for _, p := range pending {
		k, ok := keys[p.c.SignerKeyID]
		if !ok && index != nil {
			if k, err = legacyKey(ctx, index, p.c.SignerKeyID); err != nil {
				return rep, fmt.Errorf("entry %d: %w", p.i, err)
			}
			ok = k != nil
		}
		if !ok {
			return rep, fmt.Errorf("entry %d: certificate %s signed by key %.16s, which the log does not record", p.i, p.c.CertificateID, p.c.SignerKeyID)
		}
		if p.late {
			rep.LegacyKeys++
		}
		if _, err := attest.Verify(p.c.Envelope, k); err != nil {
			return rep, fmt.Errorf("entry %d: certificate %s: %w", p.i, p.c.CertificateID, err)
		}
	}
	if index != nil {
		var indexed int
		if err := index.QueryRowContext(ctx, `SELECT COUNT(*) FROM certificates WHERE log_index < ?`, cp.Size).Scan(&indexed); err != nil {
			return rep, err
		}
		rep.Unindexed = rep.Certificates - indexed
	} else {
		rep.Unindexed = rep.Certificates
	}
	return rep, nil
}

// legacyKey looks a key up in an index (keys trusted before keys were
// logged).
func legacyKey(ctx context.Context, index *sql.DB, id string) (ed25519.PublicKey, error) {
	for _, q := range []string{`SELECT public_key FROM station_keys WHERE key_id = ?`, `SELECT public_key FROM agent_keys WHERE key_id = ?`} {
		var pem string
		err := index.QueryRowContext(ctx, q, id).Scan(&pem)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return sign.ParsePublicKey([]byte(pem))
	}
	return nil, nil
}

func copyTree(src, dst string, keep func(rel string) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != src {
				return nil // removed while we walked (a superseded partial tile)
			}
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !keep(rel) {
			return nil
		}
		if err := copyFile(p, filepath.Join(dst, rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func writeTarGz(w io.Writer, dir string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	var paths []string
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	}); err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: int64(st.Mode().Perm()), Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func readTarGz(r io.Reader, dir string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if h.Typeflag != tar.TypeReg || filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("unexpected archive member %q", h.Name)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(h.Mode).Perm()|0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
}
