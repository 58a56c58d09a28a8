//go:build !linux

package avifwasm

import "github.com/tetratelabs/wazero/experimental"

// allocator keeps linear memories on the Go heap, bounded by MaxMemory
// (off Linux, the package does not reserve address space).
var allocator = experimental.MemoryAllocatorFunc(func(cap, max uint64) experimental.LinearMemory {
	return &heapMemory{}
})
