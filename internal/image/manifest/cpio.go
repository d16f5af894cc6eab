package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// The header segment is a newc ("070701") cpio archive, the format the
// kernel unpacks (Documentation/driver-api/early-userspace/buffer-format.rst):
// a 110-byte header of the magic and 13 eight-digit hex fields (ino, mode,
// uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
// rdevminor, namesize, check), the NUL-terminated name padded to a multiple
// of 4 counted from the header's start, then the data padded to 4. It ends
// with a record named "TRAILER!!!". Every field lethe writes besides mode,
// nlink, sizes and inode numbers is zero, so the bytes depend only on the
// content.

const (
	newcMagic  = "070701"
	newcHeader = 110
	trailer    = "TRAILER!!!"
	modeDir    = 0o040755
	modeFile   = 0o100444
)

type cpioWriter struct {
	buf []byte
	ino uint32
}

func (w *cpioWriter) record(name string, mode uint32, nlink uint32, data []byte) {
	w.ino++
	ino := w.ino
	if name == trailer {
		ino = 0
	}
	fields := []uint32{ino, mode, 0, 0, nlink, 0, uint32(len(data)), 0, 0, 0, 0, uint32(len(name) + 1), 0}
	w.buf = append(w.buf, newcMagic...)
	for _, f := range fields {
		w.buf = fmt.Appendf(w.buf, "%08X", f)
	}
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, 0)
	w.pad()
	w.buf = append(w.buf, data...)
	w.pad()
}

func (w *cpioWriter) pad() {
	for len(w.buf)%4 != 0 {
		w.buf = append(w.buf, 0)
	}
}

func (w *cpioWriter) dir(name string)               { w.record(name, modeDir, 2, nil) }
func (w *cpioWriter) file(name string, data []byte) { w.record(name, modeFile, 1, data) }
func (w *cpioWriter) trailer()                      { w.record(trailer, 0, 1, nil) }

// readCPIO parses a newc archive at the start of b up to its trailer and
// returns the regular files in it and the offset just past the trailer.
func readCPIO(b []byte) (map[string][]byte, int64, error) {
	files := map[string][]byte{}
	off := 0
	for {
		if len(b)-off < newcHeader {
			return nil, 0, errors.New("cpio: truncated header")
		}
		h := b[off : off+newcHeader]
		if !bytes.Equal(h[:6], []byte(newcMagic)) {
			return nil, 0, fmt.Errorf("cpio: bad magic %q at offset %d", h[:6], off)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return nil, 0, fmt.Errorf("cpio: header field %d at offset %d: %w", i, off, err)
			}
			f[i] = uint32(v)
		}
		mode, size, namesize := f[1], int(f[6]), int(f[11])
		if namesize < 1 || namesize > 4096 {
			return nil, 0, fmt.Errorf("cpio: name size %d at offset %d", namesize, off)
		}
		nameEnd := off + newcHeader + namesize
		if nameEnd > len(b) || b[nameEnd-1] != 0 {
			return nil, 0, fmt.Errorf("cpio: truncated or unterminated name at offset %d", off)
		}
		name := string(b[off+newcHeader : nameEnd-1])
		dataOff := align4(nameEnd)
		if size < 0 || dataOff+size > len(b) || dataOff > len(b) {
			return nil, 0, fmt.Errorf("cpio: %s: truncated data", name)
		}
		data := b[dataOff : dataOff+size]
		off = align4(dataOff + size)
		if name == trailer {
			return files, int64(min(off, len(b))), nil
		}
		if mode&0o170000 == 0o100000 {
			files[name] = data
		}
	}
}

func align4(n int) int { return (n + 3) &^ 3 }
