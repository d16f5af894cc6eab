package tests

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/agent"
	"github.com/lethe-project/lethe/internal/agent/tpmkey"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/storeproc"
	"github.com/lethe-project/lethe/internal/qemutest"
	"github.com/lethe-project/lethe/internal/swtpm"
	"github.com/lethe-project/lethe/internal/testutil"
	"github.com/lethe-project/lethe/internal/wipe"
)

// auditServer is a `lethe audit serve` subprocess on the host's loopback;
// a QEMU guest reaches it at 10.0.2.2.
type auditServer struct{ *storeproc.Server }

func startAuditServer(t *testing.T, data string, port int) *auditServer {
	t.Helper()
	s, err := launchAuditServer(data, port)
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// launchAuditServer starts the store and waits until it listens; it does
// not touch testing.T, so a helper goroutine may call it. When it returns
// an error with a server, the server must still be stopped.
func launchAuditServer(data string, port int) (*auditServer, error) {
	s, err := storeproc.Start(letheBin, data, fmt.Sprintf("127.0.0.1:%d", port))
	if s == nil {
		return nil, err
	}
	return &auditServer{s}, err
}

// pin is lethe.auditca for this store: the SHA-256 of its TLS certificate.
func (s *auditServer) pin(t *testing.T) string {
	b, err := os.ReadFile(s.CA)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	return agent.CertPin(blk.Bytes)
}

func (s *auditServer) admin(t *testing.T) *client.Client {
	t.Helper()
	c, err := s.Admin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// storedCert is a certificate as the store has it.
type storedCert struct {
	envelope []byte
	st       *cert.Statement
	receipt  *receipt.Receipt
}

// certificates fetches every certificate of a job from the store and
// checks each receipt against the store's own keys (read from its data
// directory, as an auditor holds them).
func (s *auditServer) certificates(t *testing.T, c *client.Client, job string) []storedCert {
	t.Helper()
	var res struct {
		Certificates []store.Row `json:"certificates"`
	}
	if err := c.Do(context.Background(), http.MethodGet, "/v1/certificates?format=json&job="+job, nil, &res); err != nil {
		t.Fatal(err)
	}
	serverKey, err := sign.LoadPublicKey(filepath.Join(s.Data, "keys", "server.pub"))
	if err != nil {
		t.Fatal(err)
	}
	logKey, err := os.ReadFile(filepath.Join(s.Data, "keys", "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	var out []storedCert
	for _, row := range res.Certificates {
		var env []byte
		if err := c.Do(context.Background(), http.MethodGet, "/v1/certificates/"+row.CertificateID+"/envelope", nil, &env); err != nil {
			t.Fatal(err)
		}
		var rc receipt.Receipt
		if err := c.Do(context.Background(), http.MethodGet, "/v1/certificates/"+row.CertificateID+"/receipt", nil, &rc); err != nil {
			t.Fatal(err)
		}
		if _, err := rc.Verify(env, receipt.Keys{LogKey: strings.TrimSpace(string(logKey)), ServerKey: serverKey}); err != nil {
			t.Errorf("receipt of %s: %v", row.CertificateID, err)
		}
		st, err := attest.Decode(env)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, storedCert{env, st, &rc})
	}
	return out
}

// bootKey finds the per-boot public key the agent printed on the console.
func bootKey(t *testing.T, console string) ed25519.PublicKey {
	t.Helper()
	m := regexp.MustCompile(`per-boot signing key ed25519:([A-Za-z0-9+/=]+)`).FindStringSubmatch(console)
	if m == nil {
		t.Fatal("the agent did not print its per-boot key")
	}
	b, err := base64.StdEncoding.DecodeString(m[1])
	if err != nil || len(b) != ed25519.PublicKeySize {
		t.Fatalf("per-boot key %q", m[1])
	}
	return ed25519.PublicKey(b)
}

var marker = []byte("CUSTOMER-DATA-lethe-agent-e2e-1b7d")

// diskFile makes a raw disk image holding customer data at its start,
// middle and end, and returns its path.
func diskFile(t *testing.T, dir, name string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, size / 2, size - 4096} {
		if _, err := f.WriteAt(bytes.Repeat(marker, 4096/len(marker)), off); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func hasMarker(t *testing.T, p string) bool {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, marker)
}

// bootStick makes a FAT32 "USB stick" labelled LETHE-BOOT, as an operator
// who boots the image from a stick prepares it.
func bootStick(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "stick.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(40 << 20)
	f.Close()
	testutil.Run(t, "mkfs.vfat", "-F", "32", "-n", "LETHE-BOOT", p)
	f, _ = os.OpenFile(p, os.O_WRONLY, 0)
	f.WriteAt(marker, 39<<20) // data the agent must not touch
	f.Close()
	return p
}

// checkCert checks what every agent certificate must say.
func checkCert(t *testing.T, c storedCert, img *qemutest.Image, job string) {
	t.Helper()
	p := c.st.Predicate
	if p.Status != wipe.StatusErased {
		t.Errorf("%s: status %s (%s)", p.Media.Serial, p.Status, p.StatusReason)
	}
	if p.Tool.ImageDigest != img.Digest {
		t.Errorf("%s: image digest %q, want %s", p.Media.Serial, p.Tool.ImageDigest, img.Digest)
	}
	if p.Personnel.Job != job {
		t.Errorf("%s: job %q", p.Media.Serial, p.Personnel.Job)
	}
	if p.Host.SystemSerial != "SRV-E2E-0001" || p.Host.SystemUUID != "6f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0" || p.Host.ChassisAssetTag != "ASSET-0042" {
		t.Errorf("%s: host identity %+v", p.Media.Serial, p.Host)
	}
	if p.Verification.Result != wipe.VerifyPassed {
		t.Errorf("%s: verification %+v", p.Media.Serial, p.Verification)
	}
}

var smbios = []string{
	"-smbios", "type=1,manufacturer=Lethe Test,product=Returned Server,serial=SRV-E2E-0001,uuid=6f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0",
	"-smbios", "type=3,manufacturer=Lethe Test,asset=ASSET-0042",
}

// TestAgentDirectBoot boots the released image with the kernel command
// line, as a wipe line's PXE setup would hand it over, on a machine with
// NVMe, SATA (AHCI), SCSI (virtio-scsi) and virtio-blk disks and a USB
// stick labelled LETHE-BOOT. The audit store is down while the agent
// wipes: it comes up only when the agent says it is waiting for it. The
// agent must keep the stick and the excluded disk, wipe the other three,
// deliver all three certificates once the store is back, and power off.
func TestAgentDirectBoot(t *testing.T) {
	qemutest.Require(t)
	testutil.RequireCommand(t, "mkfs.vfat")
	img := qemutest.GetImage(t)

	data := t.TempDir()
	srv := startAuditServer(t, data, 0)
	tok, err := srv.admin(t).CreateEnrollmentToken(context.Background(), "J-DIRECT", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	pin, port := srv.pin(t), srv.Port
	srv.Stop() // down for the whole wipe

	dir := t.TempDir()
	disks := []qemutest.Disk{
		{Kind: qemutest.NVMe, Serial: "LETHENVME0001", File: diskFile(t, dir, "nvme.img", 48<<20)},
		{Kind: qemutest.AHCI, Serial: "LETHESATA0001", File: diskFile(t, dir, "sata.img", 40<<20)},
		{Kind: qemutest.VirtioSCSI, Serial: "LETHESCSI0001", File: diskFile(t, dir, "scsi.img", 40<<20)},
		{Kind: qemutest.VirtioBlk, Serial: "LETHEVBLK0001", File: diskFile(t, dir, "vblk.img", 32<<20)},
		{Kind: qemutest.USB, Serial: "LETHEUSB0001", File: bootStick(t, dir)},
	}
	keep := map[string][32]byte{disks[3].File: fileSum(t, disks[3].File), disks[4].File: fileSum(t, disks[4].File)}

	var (
		mu       sync.Mutex
		restart  *auditServer
		waitSeen bool
		upErr    error
	)
	cmdline := strings.Join([]string{
		"lethe.policy=purge", "lethe.exclude=LETHEVBLK0001",
		fmt.Sprintf("lethe.audit=https://10.0.2.2:%d", port), "lethe.auditca=" + pin,
		"lethe.token=" + tok.Token, "lethe.job=J-DIRECT", "lethe.enrollfirst=0", `lethe.operator="E2E Tester"`, "lethe.site=qemu-direct",
		"lethe.end=poweroff",
	}, " ")
	res := qemutest.Boot(t, img, qemutest.Options{
		Released: true, Network: true, Disks: disks, Cmdline: cmdline, QEMUArgs: smbios, Memory: "1G",
		Timeout: 12 * time.Minute,
		OnConsole: func(line string) {
			if !strings.Contains(line, "waiting for the audit store") {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if waitSeen {
				return
			}
			waitSeen = true
			// The guest is retrying; bring the store back on the same
			// port, with the same keys and TLS certificate.
			go func() {
				s, err := launchAuditServer(data, port)
				mu.Lock()
				restart, upErr = s, err
				mu.Unlock()
			}()
		},
	})
	mu.Lock()
	defer mu.Unlock()
	if restart != nil {
		t.Cleanup(restart.Stop)
	}
	if upErr != nil || restart == nil {
		t.Fatalf("audit store restart: %v (waiting line seen: %v)", upErr, waitSeen)
	}
	con := res.Console
	if !strings.Contains(con, "LETHE-AGENT-RESULT PASS") {
		t.Errorf("no PASS result on the console")
	}
	for _, want := range []string{"boot medium (filesystem labelled LETHE-BOOT", "excluded by lethe.exclude=LETHEVBLK0001", "first write completed"} {
		if !strings.Contains(con, want) {
			t.Errorf("console lacks %q", want)
		}
	}

	certs := restart.certificates(t, restart.admin(t), "J-DIRECT")
	pub := bootKey(t, con)
	seen := map[string]bool{}
	for _, c := range certs {
		if _, err := attest.Verify(c.envelope, pub); err != nil {
			t.Errorf("certificate %s does not verify with the per-boot key: %v", c.st.Predicate.Media.Serial, err)
		}
		checkCert(t, c, img, "J-DIRECT")
		// Offline, as an auditor: the certificate and its receipt, no key
		// file (the certificate names its per-boot key, the receipt
		// vouches for it).
		if c.st.Predicate.Host.BootKey == "" {
			t.Errorf("%s: no host.bootKey", c.st.Predicate.Media.Serial)
		}
		dir := t.TempDir()
		base := filepath.Join(dir, c.st.Predicate.Media.Serial)
		rcJSON, _ := json.Marshal(c.receipt)
		os.WriteFile(base+".cert.json", c.envelope, 0o644)
		os.WriteFile(base+".receipt.json", rcJSON, 0o644)
		if r := lethe(t, "cert", "verify", base+".cert.json"); r.code != 0 || !strings.Contains(r.stdout, "host.bootKey") || !strings.Contains(r.stdout, "inclusion proof verifies") {
			t.Errorf("offline verification without a key file: %s", r)
		}
		if p := c.st.Predicate.Personnel; p.Operator != "E2E Tester" || p.Site != "qemu-direct" {
			t.Errorf("personnel %+v", p)
		}
		seen[c.st.Predicate.Media.Serial] = true
	}
	for _, s := range []string{"LETHENVME0001", "LETHESATA0001", "LETHESCSI0001"} {
		if !seen[s] {
			t.Errorf("no certificate for %s in the store (have %v)", s, seen)
		}
	}
	if len(certs) != 3 {
		t.Errorf("%d certificates in the store, want 3", len(certs))
	}
	for _, d := range disks[:3] {
		if hasMarker(t, d.File) {
			t.Errorf("%s (%s) still holds customer data", d.Serial, d.Kind)
		}
	}
	for p, sum := range keep {
		if fileSum(t, p) != sum {
			t.Errorf("%s was modified: the agent must not touch the boot stick or an excluded disk", filepath.Base(p))
		}
	}
}

// TestAgentPXEWithTPM boots through iPXE over QEMU user networking (the
// released boot.ipxe), with a TPM (swtpm), and configures the agent with
// a signed configuration file fetched over HTTPS from the host: the
// command line carries only where it is and the pins of its signing key
// and server. Each certificate must carry a per-boot signature and a TPM
// signature, and name the TPM key in the host identity.
func TestAgentPXEWithTPM(t *testing.T) {
	qemutest.Require(t)
	img := qemutest.GetImage(t)
	tp := swtpm.Start(t, "", true)

	srv := startAuditServer(t, t.TempDir(), 0)
	tok, err := srv.admin(t).CreateEnrollmentToken(context.Background(), "J-PXE", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}

	// The signed configuration, served over HTTPS on the host's loopback.
	cfgPub, cfgKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{
		"policy": "clear", "verify": "sample", "sample": "50",
		"audit": fmt.Sprintf("https://10.0.2.2:%d", srv.Port), "auditca": srv.pin(t), "token": tok.Token, "job": "J-PXE",
		"operator": "PXE Tester", "site": "qemu-pxe", "end": "poweroff", "bootdev": "none",
		"notAfter": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "comment": "e2e",
	})
	signed, err := agent.SignConfig(payload, cfgKey)
	if err != nil {
		t.Fatal(err)
	}
	cs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/agent.json" {
			http.NotFound(w, r)
			return
		}
		w.Write(signed)
	}))
	cs.Listener.Close()
	cs.Listener, err = net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cs.StartTLS()
	defer cs.Close()
	_, hashPin := agent.KeyPins(cfgPub)
	cmdline := strings.Join([]string{
		fmt.Sprintf("lethe.config=https://10.0.2.2:%d/agent.json", cs.Listener.Addr().(*net.TCPAddr).Port),
		"lethe.configkey=" + hashPin, "lethe.configca=" + agent.CertPin(cs.Certificate().Raw),
		"lethe.policy=purge", // replaced by the signed file's clear
	}, " ")

	dir := t.TempDir()
	disks := []qemutest.Disk{
		{Kind: qemutest.NVMe, Serial: "LETHENVME0002", File: diskFile(t, dir, "nvme.img", 32<<20)},
		{Kind: qemutest.VirtioBlk, Serial: "LETHEVBLK0002", File: diskFile(t, dir, "vblk.img", 32<<20)},
	}
	res := qemutest.Boot(t, img, qemutest.Options{
		Released: true, PXE: true, Disks: disks, Cmdline: cmdline, QEMUArgs: append(tp.QEMUArgs(), smbios...),
		Timeout: 12 * time.Minute,
	})
	con := res.Console
	// lethe.enrollfirst (the default): the store accepted the per-boot key
	// before the first write reached a disk.
	if reg, first := strings.Index(res.Console, "registered for job"), strings.Index(res.Console, "first write completed"); reg < 0 || first < 0 || reg > first {
		t.Errorf("enrollment (at %d) not confirmed before the first write (at %d)", reg, first)
	}
	for _, want := range []string{"iPXE", "LETHE-AGENT-RESULT PASS", "verified (signed by", "lethe.policy from the command line replaced by the signed configuration", "TPM signing key"} {
		if !strings.Contains(con, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	certs := srv.certificates(t, srv.admin(t), "J-PXE")
	if len(certs) != 2 {
		t.Fatalf("%d certificates in the store, want 2", len(certs))
	}
	pub := bootKey(t, con)
	var tpmIDs []string
	for _, c := range certs {
		p := c.st.Predicate
		checkCert(t, c, img, "J-PXE")
		if p.Sanitization.Category != wipe.CategoryClear || p.Verification.Scope != "sample" {
			t.Errorf("%s: %s with %s verification; the signed configuration says clear, sample", p.Media.Serial, p.Sanitization.Category, p.Verification.Scope)
		}
		if _, err := attest.Verify(c.envelope, pub); err != nil {
			t.Errorf("%s: per-boot signature: %v", p.Media.Serial, err)
		}
		tk, err := tpmkey.ParsePublicKey([]byte(p.Host.TPMKey))
		if err != nil {
			t.Fatalf("%s: host.tpmKey: %v", p.Media.Serial, err)
		}
		if err := tpmkey.VerifyEnvelope(c.envelope, tk); err != nil {
			t.Errorf("%s: TPM signature: %v", p.Media.Serial, err)
		}
		id, _ := tpmkey.KeyID(tk)
		tpmIDs = append(tpmIDs, id)
		var env sign.Envelope
		json.Unmarshal(c.envelope, &env)
		if len(env.Signatures) != 2 {
			t.Errorf("%s: %d signatures, want the per-boot key's and the TPM's", p.Media.Serial, len(env.Signatures))
		}
		der, _ := x509.MarshalPKIXPublicKey(tk)
		if !strings.Contains(con, "TPM signing key (owner hierarchy) key ID "+fmt.Sprintf("%x", sha256.Sum256(der))) {
			t.Errorf("the console does not name TPM key %.16s", id)
		}
	}
	if tpmIDs[0] != tpmIDs[1] {
		t.Errorf("the two certificates name different TPM keys: %v", tpmIDs)
	}
	// What an auditor runs: lethe cert verify-tpm, pinned to the machine's
	// TPM key; an altered certificate fails.
	certDir := t.TempDir()
	var files []string
	for i, c := range certs {
		p := filepath.Join(certDir, fmt.Sprintf("c%d.cert.json", i))
		os.WriteFile(p, c.envelope, 0o644)
		files = append(files, p)
	}
	keyFile := filepath.Join(certDir, "tpm.pub")
	os.WriteFile(keyFile, []byte(certs[0].st.Predicate.Host.TPMKey), 0o644)
	r := mustLethe(t, 0, append([]string{"cert", "verify-tpm", "--tpm-key", keyFile}, files...)...)
	if !strings.Contains(r.stdout, "signed by TPM key "+tpmIDs[0]) {
		t.Errorf("lethe cert verify-tpm: %s", r)
	}
	// Altered: the statement now says FAILED instead of ERASED, with the
	// original signatures.
	var aenv sign.Envelope
	json.Unmarshal(certs[0].envelope, &aenv)
	stmt, _ := base64.StdEncoding.DecodeString(aenv.Payload)
	aenv.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(stmt, []byte(`"ERASED"`), []byte(`"FAILED"`), 1))
	altered, _ := json.Marshal(aenv)
	os.WriteFile(files[0], altered, 0o644)
	if r := mustLethe(t, 1, "cert", "verify-tpm", files[0]); !strings.Contains(r.stdout, "does not verify") {
		t.Errorf("altered certificate: %s", r)
	}
	for _, d := range disks {
		if hasMarker(t, d.File) {
			t.Errorf("%s still holds customer data", d.Serial)
		}
	}
}

// TestAgentWithoutPolicy boots the released image without lethe.policy:
// the agent must write nothing, show FAIL, and stay on with a working
// rescue shell on the console (lethe.onfail defaults to shell), from which
// the test powers the guest off.
func TestAgentWithoutPolicy(t *testing.T) {
	qemutest.Require(t)
	img := qemutest.GetImage(t)
	dir := t.TempDir()
	disk := diskFile(t, dir, "nvme.img", 16<<20)
	before := fileSum(t, disk)
	pr, pw := io.Pipe()
	defer pw.Close()
	var once1, once2 sync.Once
	echoed := make(chan struct{})
	res := qemutest.Boot(t, img, qemutest.Options{
		Released: true, Disks: []qemutest.Disk{{Kind: qemutest.NVMe, Serial: "LETHENVME0003", File: disk}},
		Cmdline: "lethe.bootdev=none", Stdin: pr, Timeout: 5 * time.Minute,
		OnConsole: func(line string) {
			switch {
			// gosh's line editor draws its prompt and key help, in raw
			// mode: type after it, and end lines with CR as a terminal does.
			// Under TCG on a loaded machine the editor may still be
			// settling its terminal (it queries the cursor position) and
			// drop what is typed: type again until the echo comes.
			case strings.Contains(line, "toggle key help"):
				once1.Do(func() {
					go func() {
						for i := 0; i < 10; i++ {
							io.WriteString(pw, "echo SHELL-OK-$((40+2))\r")
							select {
							case <-echoed:
								return
							case <-time.After(15 * time.Second):
							}
						}
					}()
				})
			case strings.Contains(line, "SHELL-OK-42") && !strings.Contains(line, "$(("):
				once2.Do(func() { close(echoed); go io.WriteString(pw, "poweroff\r") })
			}
		},
	})
	for _, want := range []string{"lethe.policy is not set: nothing was written", "LETHE-AGENT-RESULT FAIL", "end=shell", "SHELL-OK-42"} {
		if !strings.Contains(res.Console, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	if fileSum(t, disk) != before {
		t.Error("the disk was written without lethe.policy")
	}
}
