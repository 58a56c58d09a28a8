package avifwasm

// heapMemory is a linear memory on the Go heap that grows by doubling its
// capacity (fewer copies than appending), up to MaxMemory.
type heapMemory struct{ buf []byte }

func (m *heapMemory) Reallocate(size uint64) []byte {
	if size > maxMemory {
		return nil
	}
	if size > uint64(cap(m.buf)) {
		buf := make([]byte, size, min(max(size, 2*uint64(cap(m.buf))), MaxMemory))
		copy(buf, m.buf)
		m.buf = buf
	}
	m.buf = m.buf[:size]
	return m.buf
}

func (m *heapMemory) Free() { m.buf = nil }
