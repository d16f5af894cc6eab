package station

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/durable"
	"github.com/lethe-project/lethe/sign"
)

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// CertificateName is a certificate's file name: the drive's serial (or
// device name), the end time and the start of the certificate ID, so that
// names sort by drive and time and never collide.
func CertificateName(d *devices.Device, st *cert.Statement) string {
	label := d.Serial
	if label == "" {
		label = d.Name
	}
	return fmt.Sprintf("%s-%s-%s.cert.json", unsafeName.ReplaceAllString(label, "_"),
		st.Predicate.Ended.UTC().Format("20060102T150405Z"), st.Predicate.CertificateID[:8])
}

// WriteCertificate signs the statement and writes it into dir without
// overwriting any existing file, then fsyncs it: a certificate that was
// reported must survive a power cut. It returns the path and the bytes.
func WriteCertificate(dir string, d *devices.Device, st *cert.Statement, signers ...sign.Signer) (string, []byte, error) {
	data, err := attest.Sign(st, signers...)
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, CertificateName(d, st))
	if err := durable.WriteNew(path, data, 0o644); err != nil {
		return "", nil, fmt.Errorf("write certificate: %w", err)
	}
	return path, data, nil
}
