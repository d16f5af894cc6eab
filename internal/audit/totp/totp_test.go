package totp

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

// RFC 6238 Appendix B test vectors for the SHA-1 key, 8 digits.
func TestRFC6238Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		if got := HOTP(key, Counter(time.Unix(tc.unix, 0)), 8); got != tc.want {
			t.Errorf("T=%d: %s, want %s", tc.unix, got, tc.want)
		}
	}
}

// RFC 4226 Appendix D: HOTP values for counters 0..9, 6 digits.
func TestRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := HOTP([]byte("12345678901234567890"), uint64(i), 6); got != w {
			t.Errorf("counter %d: %s, want %s", i, got, w)
		}
	}
}

func TestValidate(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	now := time.Unix(1111111111, 0)
	code, err := Code(secret, now)
	if err != nil || code != "050471" {
		t.Fatalf("Code = %s, %v", code, err)
	}
	if c, ok := Validate(secret, code, now.Add(25*time.Second)); !ok || c != Counter(now) {
		t.Fatal("code from the previous step refused")
	}
	if _, ok := Validate(secret, code, now.Add(2*Step)); ok {
		t.Fatal("code two steps old accepted")
	}
	if _, ok := Validate(strings.ToLower(secret), "000000", now); ok && code != "000000" {
		t.Fatal("wrong code accepted")
	}
	if _, ok := Validate(secret, "12345", now); ok {
		t.Fatal("short code accepted")
	}
	s := NewSecret()
	if _, err := DecodeSecret(s); err != nil || len(s) != 32 {
		t.Fatalf("NewSecret %q: %v", s, err)
	}
	if u := URI("lethe", "alice", s); !strings.HasPrefix(u, "otpauth://totp/lethe:alice?") || !strings.Contains(u, "secret="+s) {
		t.Fatalf("URI %s", u)
	}
}
