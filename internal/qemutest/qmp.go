package qemutest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"
)

// QMP is a client of QEMU's machine protocol (docs/interop/qmp-spec):
// JSON objects over a socket; the server greets, the client negotiates
// capabilities, then each {"execute": ...} is answered by {"return": ...}
// or {"error": ...}, with asynchronous {"event": ...} messages in between.
// Set Options.QMPSocket to a path and Dial it once the guest runs.
type QMP struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	// Events keeps the asynchronous events seen (DEVICE_DELETED, ...).
	Events []map[string]any
}

// DialQMP connects to QEMU's QMP socket, retrying until QEMU has created
// it (up to timeout), and negotiates capabilities.
func DialQMP(path string, timeout time.Duration) (*QMP, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			q := &QMP{conn: c, r: bufio.NewReader(c)}
			if _, err := q.read(); err != nil { // the greeting
				c.Close()
				return nil, fmt.Errorf("qmp greeting: %w", err)
			}
			if _, err := q.Execute("qmp_capabilities", nil); err != nil {
				c.Close()
				return nil, err
			}
			return q, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("qmp %s: %w", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (q *QMP) read() (map[string]any, error) {
	line, err := q.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("qmp: %w: %q", err, line)
	}
	return m, nil
}

// Execute runs one command and returns its "return" value; a QMP error is
// returned as an error with QEMU's description.
func (q *QMP) Execute(cmd string, args map[string]any) (any, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	msg := map[string]any{"execute": cmd}
	if args != nil {
		msg["arguments"] = args
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	q.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		m, err := q.read()
		if err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		if _, ok := m["event"]; ok {
			q.Events = append(q.Events, m)
			continue
		}
		if e, ok := m["error"].(map[string]any); ok {
			return nil, fmt.Errorf("qmp %s: %v: %v", cmd, e["class"], e["desc"])
		}
		return m["return"], nil
	}
}

// DeviceAdd hot-plugs a device (device_add); props are its properties
// ("driver", "id", "bus", "drive", "serial", ...).
func (q *QMP) DeviceAdd(props map[string]any) error {
	_, err := q.Execute("device_add", props)
	return err
}

// DeviceDel asks the guest to release a device (device_del); the guest's
// hot-plug driver ejects it.
func (q *QMP) DeviceDel(id string) error {
	_, err := q.Execute("device_del", map[string]any{"id": id})
	return err
}

// Close closes the connection.
func (q *QMP) Close() error { return q.conn.Close() }

// HotplugPorts are QEMU arguments for n empty PCIe root ports (ids
// hp0..hpN-1) that NVMe and virtio disks can be hot-plugged into, and
// drive backends (ids hpd0..) for the given files, attached to no device
// until a device_add names them.
func HotplugPorts(n int, files ...string) []string {
	var args []string
	for i := range n {
		args = append(args, "-device", fmt.Sprintf("pcie-root-port,id=hp%d,chassis=%d,slot=%d,bus=pcie.0", i, 10+i, 10+i))
	}
	for i, f := range files {
		args = append(args, "-drive", fmt.Sprintf("file=%s,if=none,id=hpd%d,format=raw", f, i))
	}
	return args
}
