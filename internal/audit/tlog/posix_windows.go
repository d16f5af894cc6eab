package tlog

import (
	"context"
	"errors"

	"github.com/transparency-dev/tessera"
)

// NewPOSIXDriver is not available on Windows: Tessera's POSIX driver
// serializes writers with fcntl record locks, which Windows lacks. A store
// on Windows keeps its log in MariaDB (lethe audit serve --mysql).
func NewPOSIXDriver(context.Context, string) (tessera.Driver, error) {
	return nil, errors.New("the file-system log needs a POSIX system (Tessera's POSIX driver locks with fcntl); on Windows run the store with --mysql")
}
