// Package syncbuf provides a bytes.Buffer safe for concurrent writers:
// the output of child processes and loggers, read by tests.
package syncbuf

import (
	"bytes"
	"sync"
)

// A Buffer collects writes from any goroutine. The zero value is empty
// and ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
