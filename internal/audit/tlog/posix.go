//go:build !windows

package tlog

import (
	"context"
	"fmt"
	"os"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
)

// NewPOSIXDriver stores the log as files under dir (c2sp.org/tlog-tiles
// layout), which can be served and backed up as plain files.
func NewPOSIXDriver(ctx context.Context, dir string) (tessera.Driver, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	return posix.New(ctx, posix.Config{Path: dir})
}
