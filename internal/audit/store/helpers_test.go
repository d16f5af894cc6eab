package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
)

// openWithStation opens a store for a test, closed when the test ends,
// with one station key registered; it returns the key's private half for
// signing certificates the store accepts.
func openWithStation(t *testing.T, cfg Config) (*Store, ed25519.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(ctx) })
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddStationKey(ctx, "s", pub, Actor{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	return st, key
}
