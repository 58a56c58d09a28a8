package avifwasm

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// allocator gives each instance a linear memory outside the Go heap: one
// reservation of MaxMemory bytes of address space, whose pages the kernel
// provides on first touch, so growing never copies, and closing the
// instance unmaps it all at once. If the reservation fails, the memory is
// on the Go heap, as wazero's own.
var allocator = experimental.MemoryAllocatorFunc(func(cap, max uint64) experimental.LinearMemory {
	size := maxMemory
	if max > 0 {
		size = min(size, max)
	}
	buf, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return &heapMemory{}
	}
	return &mappedMemory{buf: buf}
})

type mappedMemory struct{ buf []byte }

func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil // the module's allocation fails
	}
	return m.buf[:size]
}

func (m *mappedMemory) Free() {
	if m.buf != nil {
		syscall.Munmap(m.buf)
		m.buf = nil
	}
}
