// Package totp implements time-based one-time passwords (RFC 6238, on
// HOTP of RFC 4226) with HMAC-SHA1, 30-second steps and 6 digits: what
// authenticator apps expect from an otpauth:// URI.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Step is the time step X of RFC 6238 §4.1.
const Step = 30 * time.Second

// Digits is the code length.
const Digits = 6

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a random 160-bit secret (RFC 4226 §4 recommends 160
// bits), base32-encoded without padding as authenticator apps expect.
func NewSecret() string {
	k := make([]byte, 20)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return b32.EncodeToString(k)
}

// DecodeSecret accepts a base32 secret with or without padding, spaces or
// lower case.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimRight(s, "="), " ", ""))
	k, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("totp secret is not base32: %w", err)
	}
	if len(k) < 10 {
		return nil, fmt.Errorf("totp secret has %d bytes, want at least 10", len(k))
	}
	return k, nil
}

// HOTP computes RFC 4226 §5.3: HMAC-SHA1 over the 8-byte big-endian
// counter, dynamic truncation, modulo 10^digits.
func HOTP(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// Counter is T of RFC 6238 §4.2: whole steps since the Unix epoch.
func Counter(t time.Time) uint64 { return uint64(t.Unix()) / uint64(Step/time.Second) }

// Code is the code for secret at time t.
func Code(secret string, t time.Time) (string, error) {
	k, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return HOTP(k, Counter(t), Digits), nil
}

// Validate checks code against the steps around t (one step either way,
// for clock drift: RFC 6238 §5.2) and returns the matching step counter.
// Callers reject a counter at or below the last one accepted, so a code
// cannot be replayed (§5.2: "MUST NOT accept the second attempt").
func Validate(secret, code string, t time.Time) (counter uint64, ok bool) {
	k, err := DecodeSecret(secret)
	if err != nil || len(code) != Digits {
		return 0, false
	}
	c := Counter(t)
	for _, d := range []int64{0, -1, 1} {
		n := uint64(int64(c) + d)
		if subtle.ConstantTimeCompare([]byte(HOTP(k, n, Digits)), []byte(code)) == 1 {
			return n, true
		}
	}
	return 0, false
}

// URI is the otpauth:// key URI for authenticator apps.
func URI(issuer, account, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(Digits))
	v.Set("period", fmt.Sprint(int(Step/time.Second)))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + v.Encode()
}
