package attest_test

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/attest"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/agent/tpmkey"
	"github.com/lethe-project/lethe/sign"
)

// vectorsDir holds the certificate test vectors (cert/testdata).
var vectorsDir = filepath.Join("..", "cert", "testdata")

type vector struct {
	File          string   `json:"file"`
	Keys          []string `json:"keys"`
	TPMKey        string   `json:"tpmKey"`
	Want          string   `json:"want"`
	Status        string   `json:"status"`
	ErrorContains string   `json:"errorContains"`
	Reason        string   `json:"reason"`
}

// TestVectors verifies every committed certificate: those written by every
// schema version must verify forever, the fail_ ones must fail for their
// reason. A vector file nobody lists is an error too.
func TestVectors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectorsDir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Vectors []vector `json:"vectors"`
	}
	if err := cert.UnmarshalStrict(raw, &struct {
		Comment string    `json:"comment"`
		Vectors *[]vector `json:"vectors"`
	}{Vectors: &index.Vectors}); err != nil {
		t.Fatalf("vectors.json: %v", err)
	}
	listed := map[string]bool{}
	for _, v := range index.Vectors {
		listed[v.File] = true
		t.Run(v.File, func(t *testing.T) {
			data, err := sign.ReadFile(filepath.Join(vectorsDir, v.File))
			if err != nil {
				t.Fatal(err)
			}
			var keys []ed25519.PublicKey
			var keyErr error
			for _, k := range v.Keys {
				pub, err := sign.LoadPublicKey(filepath.Join(vectorsDir, k))
				if err != nil {
					keyErr = err
					continue
				}
				keys = append(keys, pub)
			}
			var got *attest.Verified
			if keyErr == nil {
				got, err = attest.Verify(data, keys...)
			} else {
				err = keyErr
			}
			switch v.Want {
			case "ok":
				if err != nil {
					t.Fatalf("%s (%s): %v", v.File, v.Reason, err)
				}
				if string(got.Statement.Predicate.Status) != v.Status {
					t.Fatalf("status %s, want %s", got.Statement.Predicate.Status, v.Status)
				}
				if v.TPMKey != "" {
					pemData, err := os.ReadFile(filepath.Join(vectorsDir, v.TPMKey))
					if err != nil {
						t.Fatal(err)
					}
					pub, err := tpmkey.ParsePublicKey(pemData)
					if err != nil {
						t.Fatal(err)
					}
					if err := sign.VerifyECDSA(data, pub); err != nil {
						t.Fatalf("TPM co-signature: %v", err)
					}
					if strings.TrimSpace(got.Statement.Predicate.Host.TPMKey) != strings.TrimSpace(string(pemData)) {
						t.Fatal("the certificate's host.tpmKey is not the TPM key that co-signed it")
					}
				}
			case "fail":
				if err == nil {
					t.Fatalf("%s verified; it must fail: %s", v.File, v.Reason)
				}
				if !strings.Contains(err.Error(), v.ErrorContains) {
					t.Fatalf("error %q does not say %q (%s)", err, v.ErrorContains, v.Reason)
				}
			default:
				t.Fatalf("want %q: ok or fail", v.Want)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join(vectorsDir, "*", "*.cert.json"))
	more, _ := filepath.Glob(filepath.Join(vectorsDir, "*.cert.json"))
	for _, f := range append(files, more...) {
		rel, _ := filepath.Rel(vectorsDir, f)
		if !listed[filepath.ToSlash(rel)] {
			t.Errorf("%s is not listed in vectors.json", rel)
		}
	}
}
