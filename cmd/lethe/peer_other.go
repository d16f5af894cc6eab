//go:build !linux

package main

import "net"

// peerUID is -1 where the socket's peer credentials are not read (the
// admin socket is still mode 0600: only its owner can connect); events
// then name the host admin by "uid -1".
func peerUID(net.Conn) int { return -1 }
