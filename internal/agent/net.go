package agent

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/dhclient"
)

// PinnedClient is an HTTP client that trusts exactly one TLS server
// certificate, the one whose DER encoding has SHA-256 pin (hex). The boot
// image carries no CA bundle: the audit store is authenticated by this
// pin, not by a certificate authority or a host name. With an empty pin
// the client checks nothing about the server (only for content that is
// signed, like a configuration file).
func PinnedClient(pin string, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is replaced, not skipped: VerifyConnection runs on
		// every connection, resumed ones included.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if pin == "" {
				return nil
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if got := hex.EncodeToString(sum[:]); got != pin {
				return fmt.Errorf("server certificate sha256:%s is not the pinned sha256:%s", got, pin)
			}
			return nil
		},
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// CertPin is the pin of a DER certificate, as lethe.auditca takes it.
func CertPin(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// MaxConfigSize bounds a configuration file.
const MaxConfigSize = 1 << 20

// FetchError is a failure to fetch the configuration that may go away
// (network down, server error); anything else about the file is final.
type FetchError struct{ Err error }

func (e *FetchError) Error() string { return "fetch configuration: " + e.Err.Error() }
func (e *FetchError) Unwrap() error { return e.Err }

// FetchConfig downloads a signed configuration file, verifies it against
// the pinned key and parses it. caPin optionally pins an https server's
// certificate; without it the server is not authenticated, which the
// signature makes safe for integrity (not for secrecy: an enrollment
// token in the file is readable by whoever sits on the path).
func FetchConfig(ctx context.Context, url, keyPin, caPin string, now time.Time) (*FileConfig, string, error) {
	kp, err := ParseKeyPin(keyPin)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := PinnedClient(caPin, 30*time.Second).Do(req)
	if err != nil {
		return nil, "", &FetchError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusTooManyRequests {
		return nil, "", &FetchError{fmt.Errorf("%s: HTTP %s", url, resp.Status)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetch configuration %s: HTTP %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxConfigSize+1))
	if err != nil {
		return nil, "", &FetchError{err}
	}
	if len(data) > MaxConfigSize {
		return nil, "", fmt.Errorf("configuration %s is larger than %d bytes", url, MaxConfigSize)
	}
	payload, keyID, err := VerifyConfig(data, kp)
	if err != nil {
		return nil, "", err
	}
	fc, err := ParseConfigPayload(payload, now)
	if err != nil {
		return nil, "", err
	}
	return fc, keyID, nil
}

// Lease is a configured network interface.
type Lease struct {
	Interface string
	Address   string
	Router    string
}

func (l Lease) String() string {
	s := l.Interface + " " + l.Address
	if l.Router != "" {
		s += " via " + l.Router
	}
	return s
}

// DHCP configures every Ethernet interface (names starting with "e")
// that answers DHCPv4, trying again until at least one is configured or
// ctx ends. NIC drivers may still be probing when it starts, so an empty
// interface list is retried too. report receives progress lines.
func DHCP(ctx context.Context, report func(string)) ([]Lease, error) {
	wait := time.Second
	for attempt := 1; ; attempt++ {
		leases, err := dhcpOnce(ctx)
		if len(leases) > 0 {
			return leases, nil
		}
		if attempt == 1 || attempt%5 == 0 {
			report(fmt.Sprintf("network: no DHCP lease yet (%v); retrying", err))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 15*time.Second)
	}
}

func dhcpOnce(ctx context.Context) ([]Lease, error) {
	ifs, err := dhclient.Interfaces("^e")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var leases []Lease
	var errs []string
	for r := range dhclient.SendRequests(ctx, ifs, true, false, dhclient.Config{Timeout: 4 * time.Second, Retries: 3}, 10*time.Second) {
		name := r.Interface.Attrs().Name
		if r.Err != nil || r.Lease == nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, r.Err))
			continue
		}
		if err := r.Lease.Configure(); err != nil {
			// A second interface's default route can collide with the
			// first's; its address is configured all the same.
			errs = append(errs, fmt.Sprintf("%s: configure: %v", name, err))
		}
		l := Lease{Interface: name}
		if m, _ := r.Lease.Message(); m != nil {
			ones, _ := m.SubnetMask().Size()
			l.Address = fmt.Sprintf("%s/%d", m.YourIPAddr, ones)
			if rs := m.Router(); len(rs) > 0 {
				l.Router = rs[0].String()
			}
		}
		leases = append(leases, l)
	}
	if len(leases) == 0 && len(errs) == 0 {
		errs = append(errs, "no interface came up")
	}
	return leases, errors.New(strings.Join(errs, "; "))
}
