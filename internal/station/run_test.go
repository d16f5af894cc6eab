package station

import (
	"context"
	"errors"
	"testing"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/wipe"
)

func TestAbortedBy(t *testing.T) {
	pulled := errors.New("the drive was removed from its slot during the wipe")
	for _, tc := range []struct {
		name   string
		ctx    func() context.Context
		status cert.Status
		want   cert.Status
	}{
		{"not cancelled", context.Background, cert.StatusFailed, cert.StatusFailed},
		{"ctrl-c", func() context.Context { c, cancel := context.WithCancel(context.Background()); cancel(); return c }, cert.StatusAborted, cert.StatusAborted},
		{"pulled, I/O errors", func() context.Context {
			c, cancel := context.WithCancelCause(context.Background())
			cancel(pulled)
			return c
		}, cert.StatusFailed, cert.StatusAborted},
		{"pulled after it was erased", func() context.Context {
			c, cancel := context.WithCancelCause(context.Background())
			cancel(pulled)
			return c
		}, cert.StatusErased, cert.StatusErased},
	} {
		rep := &wipe.Report{Status: tc.status, StatusReason: "stopped by the operator after pass 1 of 1"}
		abortedBy(tc.ctx(), rep)
		if rep.Status != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, rep.Status, tc.want)
		}
		if tc.want == cert.StatusAborted && tc.status == cert.StatusFailed && rep.StatusReason != pulled.Error()+"; stopped after pass 1 of 1" {
			t.Errorf("%s: reason %q", tc.name, rep.StatusReason)
		}
	}
}
