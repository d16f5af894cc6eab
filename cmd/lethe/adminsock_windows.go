package main

import (
	"errors"
	"net"
)

// errNoAdminSocket: Windows has Unix sockets but no owner-only file mode
// for them, and an admin socket any local user could reach would make
// every local user an admin of the store; the admin commands open a
// stopped store's data directory instead.
var errNoAdminSocket = errors.New("cannot restrict a Unix socket to the store's user on Windows")

func listenOwnerOnly(string) (net.Listener, error) { return nil, errNoAdminSocket }
