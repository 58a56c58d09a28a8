// Package storagetest checks that a Storage behaves as package pictures
// needs: atomic writes, missing keys reported as fs.ErrNotExist, keys that
// escape refused, failed writes leaving nothing behind, sorted prefix
// listings and usable URLs. Every implementation (storage.Dir,
// storage.Memory, the S3 adapter, third-party ones) runs it:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storagetest.Storage {
//			return &storage.Dir{Root: t.TempDir()}
//		})
//	}
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Storage is the interface under test, the same as pictures.Storage.
type Storage interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Put(ctx context.Context, key string, r io.Reader) error
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) ([]string, error)
	URL(key string) string
}

// Run runs the conformance tests, each on a new, empty storage from
// newStorage.
func Run(t *testing.T, newStorage func(t *testing.T) Storage) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Storage)
	}{
		{"PutOpen", testPutOpen},
		{"OpenMissing", testOpenMissing},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"List", testList},
		{"InvalidKeys", testInvalidKeys},
		{"FailedPut", testFailedPut},
		{"CanceledContext", testCanceledContext},
		{"AtomicOverwrite", testAtomicOverwrite},
		{"ConcurrentKeys", testConcurrentKeys},
		{"PutWhileDeleting", testPutWhileDeleting},
		{"URL", testURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStorage(t)) })
	}
}

func put(t *testing.T, s Storage, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func read(t *testing.T, s Storage, key string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return data
}

func list(t *testing.T, s Storage, prefix string) []string {
	t.Helper()
	keys, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func testPutOpen(t *testing.T, s Storage) {
	for _, tc := range []struct {
		key  string
		data []byte
	}{
		{"a.jpeg", []byte("hello")},
		{"empty.png", nil},
		{"deep/er/and/deeper/x.avif", random(100)},
		{"big/file.bin", random(5 << 20)},
		{"with space/and,comma;semi.jpeg", []byte("odd names")},
		{"caf\u00e9/\u00e0.jpeg", []byte("unicode")},
	} {
		put(t, s, tc.key, tc.data)
		if got := read(t, s, tc.key); !bytes.Equal(got, tc.data) {
			t.Errorf("Open(%q) gave %d bytes, want the %d put", tc.key, len(got), len(tc.data))
		}
	}
}

func testOpenMissing(t *testing.T, s Storage) {
	put(t, s, "dir/present.jpeg", []byte("x"))
	for _, key := range []string{"missing.jpeg", "dir/missing.jpeg", "dir", "nodir/x.jpeg"} {
		r, err := s.Open(context.Background(), key)
		if err == nil {
			r.Close()
			t.Errorf("Open(%q) of a missing key succeeded", key)
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want an error satisfying errors.Is(err, fs.ErrNotExist)", key, err)
		}
	}
}

func testOverwrite(t *testing.T, s Storage) {
	put(t, s, "k.jpeg", []byte("first, and longer"))
	put(t, s, "k.jpeg", []byte("second"))
	if got := read(t, s, "k.jpeg"); string(got) != "second" {
		t.Errorf("after overwriting, Open gave %q, want %q", got, "second")
	}
	if got := list(t, s, ""); !slices.Equal(got, []string{"k.jpeg"}) {
		t.Errorf("after overwriting, List = %q, want one key", got)
	}
}

func testDelete(t *testing.T, s Storage) {
	ctx := context.Background()
	put(t, s, "a/b/c.jpeg", []byte("x"))
	put(t, s, "a/b/d.jpeg", []byte("y"))
	if err := s.Delete(ctx, "a/b/c.jpeg"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Open(ctx, "a/b/c.jpeg"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Delete = %v, want fs.ErrNotExist", err)
	}
	if got := read(t, s, "a/b/d.jpeg"); string(got) != "y" {
		t.Errorf("Delete removed a sibling: %q", got)
	}
	if err := s.Delete(ctx, "a/b/c.jpeg"); err != nil {
		t.Errorf("Delete of a missing key = %v, want nil", err)
	}
	if err := s.Delete(ctx, "never/was.jpeg"); err != nil {
		t.Errorf("Delete of a never-stored key = %v, want nil", err)
	}
	if err := s.Delete(ctx, "a/b/d.jpeg"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("List after deleting everything = %q, want none", got)
	}
}

func testList(t *testing.T, s Storage) {
	keys := []string{"p/a.jpeg", "p/a/1_1/100w.avif", "p/a/1_1/200w.avif", "p/a/100w.avif", "p/ab.jpeg", "q/z.jpeg", "top.png"}
	for _, k := range keys {
		put(t, s, k, []byte(k))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"p/a.jpeg", "p/a/100w.avif", "p/a/1_1/100w.avif", "p/a/1_1/200w.avif", "p/ab.jpeg", "q/z.jpeg", "top.png"}},
		{"p/a/", []string{"p/a/100w.avif", "p/a/1_1/100w.avif", "p/a/1_1/200w.avif"}},
		{"p/a", []string{"p/a.jpeg", "p/a/100w.avif", "p/a/1_1/100w.avif", "p/a/1_1/200w.avif", "p/ab.jpeg"}},
		{"p/a/1_1/", []string{"p/a/1_1/100w.avif", "p/a/1_1/200w.avif"}},
		{"q/", []string{"q/z.jpeg"}},
		{"t", []string{"top.png"}},
		{"none/", nil},
		{"p/zz", nil},
	} {
		got := list(t, s, tc.prefix)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
}

var invalidKeys = []string{
	"", ".", "..", "../x", "a/../../x", "a/../b", "/etc/passwd", "/abs", "a//b", "./a", "a/", "a/./b",
	"a\x00b", "nul\x00", "back\\slash", "..\\x", "ctl\x01", ".hidden", "a/.tmp-x",
	strings.Repeat("k", 2000),
}

func testInvalidKeys(t *testing.T, s Storage) {
	ctx := context.Background()
	put(t, s, "ok.jpeg", []byte("x"))
	for _, key := range invalidKeys {
		if err := s.Put(ctx, key, strings.NewReader("evil")); err == nil {
			t.Errorf("Put(%q) succeeded, want a refusal", key)
		} else if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Put(%q) = %v, want an error satisfying errors.Is(err, fs.ErrInvalid)", key, err)
		}
		if r, err := s.Open(ctx, key); err == nil {
			r.Close()
			t.Errorf("Open(%q) succeeded, want a refusal", key)
		}
		if err := s.Delete(ctx, key); err == nil {
			// Deleting may not silently succeed on a key it would refuse to store.
			t.Errorf("Delete(%q) succeeded, want a refusal", key)
		}
	}
	for _, prefix := range []string{"../", "/", "a/../"} {
		if _, err := s.List(ctx, prefix); err == nil {
			t.Errorf("List(%q) succeeded, want a refusal", prefix)
		}
	}
	if got := list(t, s, ""); !slices.Equal(got, []string{"ok.jpeg"}) {
		t.Errorf("after refused keys, List = %q, want only ok.jpeg", got)
	}
}

// failingReader returns n bytes, then an error.
type failingReader struct{ n int }

var errBroken = errors.New("storagetest: the upload broke")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errBroken
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

func testFailedPut(t *testing.T, s Storage) {
	ctx := context.Background()
	if err := s.Put(ctx, "new.jpeg", &failingReader{n: 1 << 20}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if _, err := s.Open(ctx, "new.jpeg"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed Put left something readable: Open = %v", err)
	}
	put(t, s, "old.jpeg", []byte("previous"))
	if err := s.Put(ctx, "old.jpeg", &failingReader{n: 1 << 20}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if got := read(t, s, "old.jpeg"); string(got) != "previous" {
		t.Errorf("a failed overwrite changed the object to %d bytes", len(got))
	}
	if got := list(t, s, ""); !slices.Equal(got, []string{"old.jpeg"}) {
		t.Errorf("failed Puts left %q", got)
	}
}

func testCanceledContext(t *testing.T, s Storage) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, "c.jpeg", strings.NewReader("x")); err == nil {
		t.Error("Put with a canceled context succeeded")
	}
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("Put with a canceled context stored %q", got)
	}
	// A context canceled while the body is read stops the write.
	ctx, cancel = context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		pw.Write(random(64 << 10))
		cancel()
		time.Sleep(10 * time.Millisecond)
		pw.Write(random(64 << 10))
		pw.Close()
	}()
	if err := s.Put(ctx, "c.jpeg", pr); err == nil {
		t.Error("Put whose context was canceled while reading succeeded")
	}
	pr.Close()
	if _, err := s.Open(context.Background(), "c.jpeg"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a canceled Put left something readable: Open = %v", err)
	}
}

func testAtomicOverwrite(t *testing.T, s Storage) {
	const size = 1 << 20
	a, b := bytes.Repeat([]byte{'a'}, size), bytes.Repeat([]byte{'b'}, size)
	put(t, s, "atomic.avif", a)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Go(func() {
		for i := 0; i < 20 && ctx.Err() == nil; i++ {
			data := a
			if i%2 == 0 {
				data = b
			}
			if err := s.Put(ctx, "atomic.avif", bytes.NewReader(data)); err != nil && ctx.Err() == nil {
				errs <- err
				return
			}
		}
		cancel()
	})
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				r, err := s.Open(context.Background(), "atomic.avif")
				if err != nil {
					errs <- fmt.Errorf("opening during overwrites: %w", err)
					return
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil {
					errs <- err
					return
				}
				if len(got) != size || bytes.Count(got, got[:1]) != size {
					errs <- fmt.Errorf("a reader saw a mixed or partial object (%d bytes)", len(got))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testConcurrentKeys(t *testing.T, s Storage) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			key := fmt.Sprintf("c/%02d/v.avif", i)
			if err := s.Put(context.Background(), key, strings.NewReader(key)); err != nil {
				t.Errorf("Put(%q): %v", key, err)
			}
		})
	}
	wg.Wait()
	got := list(t, s, "c/")
	if len(got) != 16 {
		t.Fatalf("List after 16 concurrent Puts = %d keys", len(got))
	}
	for _, k := range got {
		if string(read(t, s, k)) != k {
			t.Errorf("%q holds another key's bytes", k)
		}
	}
}

// testPutWhileDeleting writes keys of a folder while other keys of the
// same folder are deleted, as a job writes variants while the picture is
// deleted: a store that removes folders it empties must not fail the
// writes that race with it.
func testPutWhileDeleting(t *testing.T, s Storage) {
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			key := fmt.Sprintf("race/f/put-%03d", i)
			if err := s.Put(ctx, key, strings.NewReader(key)); err != nil {
				t.Errorf("Put(%q) while the folder's other keys are deleted: %v", key, err)
				return
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Errorf("Delete(%q): %v", key, err)
				return
			}
		}
	})
	wg.Go(func() {
		for i := range n {
			key := fmt.Sprintf("race/f/del-%03d", i)
			if err := s.Put(ctx, key, strings.NewReader(key)); err != nil {
				t.Errorf("Put(%q): %v", key, err)
				return
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Errorf("Delete(%q): %v", key, err)
				return
			}
		}
	})
	wg.Wait()
	if got := list(t, s, "race/"); len(got) != 0 {
		t.Errorf("List after every key was deleted = %q", got)
	}
}

func testURL(t *testing.T, s Storage) {
	seen := map[string]string{}
	for _, key := range []string{"a.jpeg", "b/c/100w.avif", "with space/x,y.jpeg", "caf\u00e9.png", "q?x#y.jpeg"} {
		u := s.URL(key)
		if u == "" {
			t.Errorf("URL(%q) is empty", key)
			continue
		}
		if strings.ContainsAny(u, " \t\n\"<>") {
			t.Errorf("URL(%q) = %q holds characters that need escaping", key, u)
		}
		parsed, err := url.Parse(u)
		if err != nil {
			t.Errorf("URL(%q) = %q does not parse: %v", key, u, err)
			continue
		}
		// The key is the end of the URL's path, escaped, whatever the URL
		// adds (a host, a bucket, a signature in the query).
		if !strings.HasSuffix(parsed.Path, "/"+key) && parsed.Path != key {
			t.Errorf("URL(%q) = %q: its path %q does not end with the key (an unescaped ? or #?)", key, u, parsed.Path)
		}
		if other, dup := seen[u]; dup {
			t.Errorf("keys %q and %q share the URL %q", other, key, u)
		}
		seen[u] = key
	}
}
