//go:build unix

package main

import (
	"errors"
	"net"
	"syscall"
)

// errNoAdminSocket: the system cannot make an owner-only socket.
var errNoAdminSocket = errors.New("no owner-only Unix sockets")

// listenOwnerOnly listens on a Unix socket created mode 0600, so that only
// the store's user (and root) can connect.
func listenOwnerOnly(path string) (net.Listener, error) {
	old := syscall.Umask(0o177)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
